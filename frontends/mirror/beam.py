"""Stage 3b, beam search over the queries a grammar allows, when they are too many to score one by one.

The queries are tokenised and laid into a token trie: every path from the root to a leaf is one query
(ending in the newline that ends SQL in the prompt's examples, so the model also says where a query
stops). One pass of the model at a node gives the probability of all its children at once, so a beam of
the likeliest partial queries walks down the trie level by level; a run of tokens with no choice is
decoded in one batch (its tokens still count in the score). The cost grows with the beam width times the
number of choice points, not with the number of queries, and every query returned is one the grammar
allows, scored by the same summed log-likelihood as a query scored whole.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

BEAM_WIDTH = 6


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)  # indices of the queries that end here


def build_trie(sequences: Sequence[Sequence[int]]) -> _Node:
    root = _Node()
    for i, seq in enumerate(sequences):
        node = root
        for t in seq:
            node = node.children.setdefault(t, _Node())
        node.ends.append(i)
    return root


# step(ids, start) -> (log p(ids[i] | ids[:i]) for i >= start, log-probabilities of the next token after ids)
Step = Callable[[list[int], int], tuple[list[float], Sequence[float]]]


def beam_search(step: Step, head: list[int], sequences: Sequence[Sequence[int]], width: int = BEAM_WIDTH,
                keep: int = BEAM_WIDTH) -> list[tuple[int, float]]:
    """The `keep` likeliest of `sequences` (token ids following `head`) found by a beam of `width` over their
    trie: (index, summed log-probability) pairs, likeliest first. A sequence that is a prefix of another is
    reached as an end on the way down."""
    root = build_trie(sequences)
    done: dict[int, float] = {}
    # a hypothesis: (score of the tokens chosen so far, path below head, node); its last token's own
    # log-probability is in the score, the tokens of a forced run below it are not yet
    beam: list[tuple[float, list[int], _Node]] = [(0.0, [], root)]
    while beam:
        grown: list[tuple[float, list[int], _Node]] = []
        for score, path, node in sorted(beam, key=lambda h: h[1]):  # neighbours share the model's cache
            start = len(head) + len(path)
            while len(node.children) == 1 and not node.ends:  # no choice here: decode the run in one batch
                (t, node), = node.children.items()
                path = path + [t]
            ids = head + path
            logprobs, following = step(ids, start)
            score += sum(logprobs)
            for i in node.ends:
                done[i] = score
            grown += [(score + following[t], path + [t], child) for t, child in node.children.items()]
        grown.sort(key=lambda h: -h[0])
        floor = sorted(done.values(), reverse=True)[keep - 1] if len(done) >= keep else -math.inf
        beam = [h for h in grown[:width] if h[0] > floor]  # a partial query only loses probability below
    return sorted(done.items(), key=lambda kv: -kv[1])[:keep]
