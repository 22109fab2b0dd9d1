"""Real data as it comes: Criteo TSV streamed in chunks (plain or .gz), malformed lines reported by
line number and skipped, raw 32-bit hashes kept as ids, Avazu CSV with a header, and derived
copies only in girflow's cache folder."""
import gzip
import shutil

import numpy as np
import pytest

from girflow.frontends.fiited.data import NUM_SPARSE, generate, load
from girflow.tools.cli import main

SIZES = [500, 300] + [200] * 10 + [50] * 14


@pytest.fixture(scope="module")
def criteo(tmp_path_factory):
    path = tmp_path_factory.mktemp("crit") / "d.tsv"
    generate(str(path), 1500, SIZES, seed=2)
    return path


def test_chunked_gz_and_raw_ids_agree_with_a_plain_read(criteo, tmp_path):
    dense, sparse, label = load(str(criteo), SIZES, cache=False)
    gz = tmp_path / "d.tsv.gz"
    with open(criteo, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    d2, s2, l2 = load(str(gz), SIZES, cache=False, chunk_lines=128)   # many chunks
    np.testing.assert_array_equal(d2, dense)
    np.testing.assert_array_equal(s2, sparse)
    np.testing.assert_array_equal(l2, label)
    _, raw, _ = load(str(gz), raw_ids=True, chunk_lines=500)
    first = criteo.read_text().splitlines()[0].split("\t")[14:]
    assert list(raw[0]) == [int(c, 16) for c in first]             # the hashes themselves
    assert raw.max() >= 2**31 and (raw % np.array(SIZES) == sparse).all()


def test_malformed_lines_are_reported_with_line_numbers_not_fatal(criteo, tmp_path):
    lines = criteo.read_text().splitlines(keepends=True)[:50]
    lines[3] = "1\t2\tonly three fields\n"
    lines[10] = lines[10].replace("\t", "\tx", 1)                    # an integer feature "x..."
    lines[20] = "7" + lines[20][1:]                                   # label 7
    parts = lines[30].split("\t")
    parts[20] = "zz"
    lines[30] = "\t".join(parts)                                      # a category not hex
    bad = tmp_path / "bad.tsv"
    bad.write_text("".join(lines))
    data = load(str(bad), SIZES, cache=False, chunk_lines=16)
    assert len(data[2]) == 46 and data.bad_count == 4
    assert [n for n, _ in data.bad_lines] == [4, 11, 21, 31]
    reasons = dict(data.bad_lines)
    assert "fields" in reasons[4] and "number" in reasons[11] and "label" in reasons[21] and "hex" in reasons[31]
    nothing = tmp_path / "nothing.tsv"
    nothing.write_text("a\tb\n")
    with pytest.raises(ValueError, match="no valid criteo line.*line 1"):
        load(str(nothing), SIZES, cache=False)


AVAZU = """id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21
1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79
10000169349117863715,1,14102113,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,96809ac8,711ee120,1,0,15704,320,50,1722,0,35,100084,79
broken,line
10000371904215119486,0,14102699,1005,1,85f751fd,c4e18dd6,50e219e0,e2fcccd2,5c5a694b,0f2161f8,a99f214a,8a014cbb,1f0bc64f,1,0,20366,320,50,2333,0,39,-1,157
"""


def test_avazu_csv_with_header(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(AVAZU)
    data = load(str(path), raw_ids=True, cache=False)
    dense, sparse, label = data
    assert sparse.shape == (2, 21) and dense.shape == (2, 2) and list(label) == [0, 1]
    assert [n for n, _ in data.bad_lines] == [4, 5]                   # too few fields; hour 99
    assert "fields" in data.bad_lines[0][1] and "hour" in data.bad_lines[1][1]
    np.testing.assert_allclose(dense[:, 0], [0.0, 13 / 23])           # hour of day, scaled
    assert sparse[0, 0] == sparse[1, 0]                                # C1 = 1005 on both lines: one id
    assert sparse[0, 9] != sparse[1, 9]                                # device_ip differs
    assert (sparse >= 0).all() and sparse.max() < 2**32


def test_cli_trains_fiited_on_raw_ids_and_reports_bad_lines(criteo, tmp_path, capsys):
    lines = criteo.read_text().splitlines(keepends=True)
    lines[7] = "garbage\n"
    bad = tmp_path / "d.tsv"
    bad.write_text("".join(lines))
    assert main(["fiited", "train", str(bad), "--raw-ids", "--dim", "16", "--batch-size", "256",
                 "--adjust-every", "2", "--budget", "0.5", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 malformed line(s) (line 8: expected 40 tab-separated fields)" in captured.err
    assert "fiited budget=  0.5" in captured.out
    assert main(["fiited", "eval", str(bad), "--raw-ids", "--no-progress"]) == 2
    assert NUM_SPARSE == 26


def _reference_line(line: str):
    """Criteo fields parsed in plain Python: (label, dense, ids) or None for a malformed line."""
    import math

    f = line.rstrip("\r\n").split("\t")
    if len(f) != 40 or f[0] not in ("0", "1"):
        return None
    try:
        values = [float(v) if v else 0.0 for v in f[1:14]]
    except ValueError:
        return None
    if not all(map(math.isfinite, values)):                                # nan / inf: not a count
        return None
    dense = [math.log1p(max(v, 0.0)) for v in values]
    hexes = f[14:]
    if any(len(h) > 8 or any(c not in "0123456789abcdefABCDEF" for c in h) for h in hexes):
        return None
    return float(f[0]), dense, [int(h, 16) if h else 0 for h in hexes]


def test_native_parser_matches_a_python_parse_across_block_boundaries(criteo, tmp_path, monkeypatch):
    import girflow.frontends.fiited.data as data_mod

    lines = criteo.read_text().splitlines(keepends=True)[:300]
    edits = {5: lambda p: p[:1] + ["-3", "2.5", "1e2"] + p[4:],            # negative, float, exponent
             9: lambda p: p[:14] + ["ABCDEF12"] + p[15:],                    # upper-case hex
             13: lambda p: p + ["extra"], 17: lambda p: p[:20] + ["0x12"] + p[21:],
             21: lambda p: p[:30] + ["123456789"] + p[31:], 25: lambda p: p[:3] + ["nan"] + p[4:],
             29: lambda p: p[:14] + [""] + p[15:]}                           # missing category
    for i, edit in edits.items():
        lines[i] = "\t".join(edit(lines[i].rstrip("\n").split("\t"))) + "\n"
    lines[33] = lines[33].replace("\n", "\r\n")
    lines[-1] = lines[-1].rstrip("\n")                                         # no newline at the end
    path = tmp_path / "edge.tsv"
    path.write_bytes("".join(lines).encode())
    monkeypatch.setattr(data_mod, "BLOCK_BYTES", 997)                          # lines cut by block ends
    dense, raw, label = got = load(str(path), raw_ids=True, cache=False, chunk_lines=7)
    ref = [_reference_line(line) for line in lines]
    good = [r for r in ref if r is not None]
    assert [n for n, _ in got.bad_lines] == [i + 1 for i, r in enumerate(ref) if r is None] == [14, 18, 22, 26]
    np.testing.assert_array_equal(label, [r[0] for r in good])
    np.testing.assert_allclose(dense, np.array([r[1] for r in good], np.float32), rtol=1e-6)
    np.testing.assert_array_equal(raw, [r[2] for r in good])
