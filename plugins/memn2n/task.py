"""Generated bAbI-style question answering (the bAbI tasks themselves do not ship offline).

A small world of people, places and objects is simulated; each story is a list of events and ends
with one question whose answer is a single word. Three tasks mirror bAbI's first three:

- `memn2n/babi-qa1` single supporting fact: "where is mary ?" after people moved around.
- `memn2n/babi-qa2` two supporting facts: "where is the milk ?" -- who carries it, and where that
  person went (or where it was dropped).
- `memn2n/babi-qa3` three supporting facts: "where was the milk before the office ?" -- the
  object's previous place, through pick-up, moves and drops.

All three share one vocabulary, so one model config fits them all. Stories keep their most recent
`memory_size` sentences; like bAbI's "1k" setting there are 1000 training questions (10% held out
as validation) and 1000 test questions. No supporting-fact labels are given to the model.
"""

from __future__ import annotations

import random

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["BabiTask", "VOCABULARY", "generate_story"]

PEOPLE = ["john", "mary", "sandra", "daniel"]
PLACES = ["kitchen", "garden", "hallway", "bathroom", "office", "bedroom"]
OBJECTS = ["football", "apple", "milk"]
MOVES = ["moved", "went", "journeyed", "travelled"]
TAKES = [["picked", "up"], ["got"], ["grabbed"]]
DROPS = [["dropped"], ["discarded"], ["put", "down"]]
VOCABULARY = ["<pad>", "the", "to", "where", "is", "was", "before", "?", *PEOPLE, *PLACES, *OBJECTS, *MOVES,
              "picked", "up", "got", "grabbed", "dropped", "discarded", "put", "down"]
WORD_ID = {w: i for i, w in enumerate(VOCABULARY)}
SENTENCE_SIZE = 7  # "where was the football before the kitchen"

# qa -> (events per story: min, max)
STORY_LENGTHS = {1: (2, 10), 2: (6, 30), 3: (10, 60)}


class _World:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.person_at: dict[str, str] = {}
        self.holder: dict[str, str | None] = {o: None for o in OBJECTS}
        self.object_at: dict[str, str | None] = {o: None for o in OBJECTS}
        self.history: dict[str, list[str]] = {o: [] for o in OBJECTS}  # distinct consecutive places

    def _place_object(self, obj: str, place: str) -> None:
        self.object_at[obj] = place
        if not self.history[obj] or self.history[obj][-1] != place:
            self.history[obj].append(place)

    def move(self) -> list[str]:
        person = self.rng.choice(PEOPLE)
        place = self.rng.choice([p for p in PLACES if p != self.person_at.get(person)])
        self.person_at[person] = place
        for obj, holder in self.holder.items():
            if holder == person:
                self._place_object(obj, place)
        return [person, self.rng.choice(MOVES), "to", "the", place]

    def take(self) -> list[str] | None:
        # only people whose place is known pick things up, so every answer follows from the story
        free = [o for o in OBJECTS if self.holder[o] is None]
        located = [p for p in PEOPLE if p in self.person_at]
        if not free or not located:
            return None
        obj, person = self.rng.choice(free), self.rng.choice(located)
        self.holder[obj] = person
        self._place_object(obj, self.person_at[person])
        return [person, *self.rng.choice(TAKES), "the", obj]

    def drop(self) -> list[str] | None:
        held = [o for o in OBJECTS if self.holder[o] is not None]
        if not held:
            return None
        obj = self.rng.choice(held)
        person, self.holder[obj] = self.holder[obj], None
        return [person, *self.rng.choice(DROPS), "the", obj]


def generate_story(qa: int, rng: random.Random) -> tuple[list[list[str]], list[str], str]:
    """One (story sentences, question, answer) for bAbI-style task `qa` (1, 2 or 3)."""
    low, high = STORY_LENGTHS[qa]
    while True:  # redraw the rare story that leaves no question of the right kind
        world, story = _World(rng), []
        for _ in range(rng.randint(low, high)):
            roll = rng.random()
            if qa == 1 or roll < 0.5:
                story.append(world.move())
            else:
                sentence = world.take() if roll < 0.8 else world.drop()
                story.append(sentence or world.move())
        if qa == 1 and world.person_at:
            person = rng.choice(sorted(world.person_at))
            return story, ["where", "is", person, "?"], world.person_at[person]
        if qa == 2:
            # asked only about objects whose place needs the carrier's move or the drop
            known = [o for o in OBJECTS if world.object_at[o] is not None]
            if known:
                obj = rng.choice(known)
                return story, ["where", "is", "the", obj, "?"], world.object_at[obj]
        if qa == 3:
            moved = [o for o in OBJECTS if len(world.history[o]) >= 2]
            if moved:
                obj = rng.choice(moved)
                now, before = world.history[obj][-1], world.history[obj][-2]
                return story, ["where", "was", "the", obj, "before", "the", now], before


def _encode(words: list[str], size: int) -> list[int]:
    ids = [WORD_ID[w] for w in words if w != "?"]
    return ids + [0] * (size - len(ids))


class BabiTask(Task):
    """`memn2n/babi-qa{1,2,3}`: one-word answers to questions about a generated story.

    Options: memory_size (most recent sentences kept), train_size, test_size, seed.
    Batches are (story (M, S) int64, query (S,) int64, answer () int64).
    """

    kind = "classification"

    def __init__(self, qa: int, memory_size: int = 50, train_size: int = 1000, test_size: int = 1000, seed: int = 0):
        if qa not in STORY_LENGTHS:
            raise ValueError(f"qa must be one of {sorted(STORY_LENGTHS)}, got {qa}")
        if memory_size < 1 or train_size < 10 or test_size < 1:
            raise ValueError(f"need memory_size >= 1, train_size >= 10, test_size >= 1; got "
                             f"{memory_size}, {train_size}, {test_size}")
        self.name = f"memn2n/babi-qa{qa}"
        self.qa, self.memory_size, self.seed = qa, memory_size, seed
        self.train_size, self.test_size = train_size, test_size
        vocab = len(VOCABULARY)
        self.info = TaskInfo(kind=self.kind, input_shape=(memory_size, SENTENCE_SIZE), output_dim=vocab,
                             num_classes=vocab,
                             extra={"vocab_size": vocab, "memory_size": memory_size,
                                    "sentence_size": SENTENCE_SIZE, "vocabulary": list(VOCABULARY)})
        self._splits = None

    def _make(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = random.Random(seed * 10 + self.qa)
        stories, queries, answers = [], [], []
        for _ in range(count):
            story, question, answer = generate_story(self.qa, rng)
            story = story[-self.memory_size:]
            rows = [_encode(s, SENTENCE_SIZE) for s in story]
            stories.append(rows + [[0] * SENTENCE_SIZE] * (self.memory_size - len(rows)))
            queries.append(_encode(question, SENTENCE_SIZE))
            answers.append(WORD_ID[answer])
        return np.array(stories), np.array(queries), np.array(answers)

    def splits(self) -> dict:
        if self._splits is None:
            train = self._make(self.train_size, self.seed)
            held_out = self.train_size // 10  # the paper holds out 10% of training for validation
            self._splits = {"train": ArraySplit(*(a[held_out:] for a in train)),
                            "val": ArraySplit(*(a[:held_out] for a in train)),
                            "test": ArraySplit(*self._make(self.test_size, self.seed + 1))}
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        import torch.nn.functional as F

        return F.cross_entropy(output, batch[2])

    def metrics(self) -> dict:
        from torchmetrics.classification import MulticlassAccuracy

        return {"accuracy": MulticlassAccuracy(num_classes=len(VOCABULARY), average="micro")}
