"""The bAbI-style tasks of the `memn2n` plugin with their supporting facts, for strong supervision.

`memory-networks/babi-qa{1,2,3}` hold exactly the stories, questions and answers of
`memn2n/babi-qa{1,2,3}` (the same generator, seeds and encoding); each batch adds the indices of
the supporting facts in memory, found by replaying the story sentence by sentence:

- qa1 "where is P ?": P's last move.
- qa2 "where is the O ?": the last sentence about O (taken or dropped by X), then X's last move
  before it (dropped) or overall (still carried).
- qa3 "where was the O before the NOW": the event that brought O to NOW, then the two facts that
  say where it was: O taken by X, X moving to NOW, X's move before it; or, when O was picked up at
  NOW by Y after Z dropped it, Y taking O, Z dropping O, Z's move before the drop.

Facts cut off by the memory window (the story's most recent `memory_size` sentences) are -1.
"""

from __future__ import annotations

import random

import numpy as np

from zoo.tasks import ArraySplit

from zoo_plugins.memn2n.task import MOVES, SENTENCE_SIZE, WORD_ID, BabiTask, _encode, generate_story

__all__ = ["SupportedBabiTask", "supporting_facts", "FACTS_PER_QA"]

FACTS_PER_QA = {1: 1, 2: 2, 3: 3}
TAKE_VERBS, DROP_VERBS = {"picked", "got", "grabbed"}, {"dropped", "discarded", "put"}


def supporting_facts(qa: int, story: list[list[str]], question: list[str]) -> list[int]:
    """Indices (into `story`) of the sentences that answer `question`, in chaining order."""
    last_move: dict[str, list[int]] = {}   # person -> indices of their moves
    carrier: dict[str, tuple[str, int]] = {}  # object -> (person, index of the take)
    last_about: dict[str, int] = {}        # object -> last sentence about it
    arrival: dict[str, list[int]] = {}     # object -> facts of its last change of place
    place_of: dict[str, str] = {}
    dropped: dict[str, tuple[str, int]] = {}  # object -> (person, index of the drop)
    for i, words in enumerate(story):
        person, verb, last = words[0], words[1], words[-1]
        if verb in MOVES:
            before = last_move.get(person, [])
            for obj, (holder, took) in carrier.items():
                if holder == person:
                    arrival[obj] = [took, i, before[-1]]
                    place_of[obj] = last
            last_move.setdefault(person, []).append(i)
        elif verb in TAKE_VERBS:
            here = story[last_move[person][-1]][-1]
            if last in dropped and place_of.get(last) != here:
                dropper, drop = dropped[last]
                arrival[last] = [i, drop, max(j for j in last_move[dropper] if j < drop)]
            place_of[last] = here
            carrier[last] = (person, i)
            dropped.pop(last, None)
            last_about[last] = i
        elif verb in DROP_VERBS:
            carrier.pop(last, None)
            dropped[last] = (person, i)
            last_about[last] = i
    if qa == 1:
        return [last_move[question[2]][-1]]
    if qa == 2:
        obj = question[3]
        about = last_about[obj]
        holder = story[about][0]
        return [about, max(j for j in last_move[holder] if j < about) if obj not in carrier else last_move[holder][-1]]
    return list(arrival[question[3]])


class SupportedBabiTask(BabiTask):
    """`memory-networks/babi-qa{1,2,3}`: memn2n's generated bAbI-style task plus supporting facts.

    Batches are (story (M, S) int64, query (S,) int64, answer () int64, facts (F,) int64), F being
    1, 2 or 3 for qa1, qa2, qa3. Options as memn2n's task (memory_size, train_size, test_size, seed).
    """

    def __init__(self, qa: int, **options):
        super().__init__(qa, **options)
        self.name = f"memory-networks/babi-qa{qa}"
        self.info.extra["supporting_facts"] = FACTS_PER_QA[qa]

    def _make(self, count: int, seed: int):
        rng = random.Random(seed * 10 + self.qa)  # memn2n's seeding: the same stories
        stories, queries, answers, facts = [], [], [], []
        for _ in range(count):
            story, question, answer = generate_story(self.qa, rng)
            found = supporting_facts(self.qa, story, question)
            offset = max(0, len(story) - self.memory_size)
            story = story[-self.memory_size:]
            rows = [_encode(s, SENTENCE_SIZE) for s in story]
            stories.append(rows + [[0] * SENTENCE_SIZE] * (self.memory_size - len(rows)))
            queries.append(_encode(question, SENTENCE_SIZE))
            answers.append(WORD_ID[answer])
            facts.append([i - offset if i >= offset else -1 for i in found])
        return np.array(stories), np.array(queries), np.array(answers), np.array(facts)

    def splits(self) -> dict:
        if self._splits is None:
            train = self._make(self.train_size, self.seed)
            held_out = self.train_size // 10
            self._splits = {"train": ArraySplit(*(a[held_out:] for a in train)),
                            "val": ArraySplit(*(a[:held_out] for a in train)),
                            "test": ArraySplit(*self._make(self.test_size, self.seed + 1))}
        return self._splits

    def loss(self, output, batch):
        """The answer's margin ranking loss (Eq. 8, gamma 0.1) of s_R scores, for evaluation."""
        import torch.nn.functional as F

        return F.multi_margin_loss(output, batch[2], margin=0.1) * output.shape[1]
