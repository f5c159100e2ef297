"""Tree genetic programming (DEAP) for binary problems over a small feature matrix.

A program maps the columns of ``x [n, f]`` (PCA components, descriptors, a network's
logits: never raw voxels) to one score per row; ``score >= 0`` means "positive". The
classical GP classifier and the "+ GP" ensemble both evolve programs here, so nothing in
this module knows about volumes or plugins.

The run follows the typical setup of GP classifiers (docs/classical.md): functions
{+, -, *, protected /}, terminals = the features and ephemeral constants, ramped
half-and-half initialisation (depth 2..6), tournament selection (7), crossover 0.6 /
mutation 0.35 / copy 0.05 per pair of offspring, Koza's static height limit 17 on both
operators, and a hall of fame copied unchanged into every next generation (elitism).
DEAP draws from Python's global ``random``; :func:`evolve` seeds it and restores the
caller's state afterwards.

Evaluation is vectorised: a program runs as one numpy operation per node over whole
columns, never a Python call per row; repeated programs are looked up, not rerun.
Population 500 x 50 generations on 1300 rows x 20 features takes about 10 s on one core
(measured in docs/classical.md).

K classes are decided as the fitness rewarded each program: the programs whose output is
``>= 0`` claim a particle; several claims or none are settled by a bounded, robust score
(:func:`claim_scores`), never by outputs standardised by mean and spread, which a heavy
tail from protected division flattens.

Public API: :func:`evolve` (one binary problem) and :func:`evolve_one_vs_rest` (K
classes), their results :class:`Program` and :class:`OneVsRestPrograms` (decided by
:func:`robust_scales` and :func:`claim_scores`), the run's :class:`GPSettings`, and
:func:`program_fitness` / :func:`compile_program` to score a program written as a string.
"""

from __future__ import annotations

import copy
import math
import operator
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from deap import base, gp, tools

#: A fitness measure: (scores [n], positive [n] bool) -> value to maximise.
FitnessMeasure = Callable[[np.ndarray, np.ndarray], float]
#: Outputs beyond this magnitude are clipped before they are scaled (a program may overflow).
OUTPUT_LIMIT = 1e9
#: What a claim (output >= 0) adds to a program's squashed score, in (-1, 1): claims
#: outrank non-claims by at least this much, so a softmax gives them e^2 times the mass.
CLAIM_BONUS = 2.0
#: A denominator closer to zero than this makes protected division return 1.
DIVISION_EPSILON = 1e-9


# --- fitness --------------------------------------------------------------------------


def _rates(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(accuracy on positives, accuracy on negatives); NaN scores count as negative."""
    with np.errstate(invalid="ignore"):
        predicted = np.asarray(scores) >= 0
    positive = np.asarray(positive, dtype=bool)
    n_positive = np.count_nonzero(positive)
    true_positive = np.count_nonzero(predicted & positive)
    false_positive = np.count_nonzero(predicted) - true_positive
    n_negative = len(positive) - n_positive
    return float(true_positive / n_positive), float((n_negative - false_positive) / n_negative)


def balanced_accuracy(scores: np.ndarray, positive: np.ndarray) -> float:
    """AVE: 0.5 x accuracy on the positives + 0.5 x accuracy on the negatives."""
    sensitivity, specificity = _rates(scores, positive)
    return 0.5 * (sensitivity + specificity)


def binary_gmean(scores: np.ndarray, positive: np.ndarray) -> float:
    """G-mean of the binary problem: sqrt(sensitivity x specificity)."""
    sensitivity, specificity = _rates(scores, positive)
    return math.sqrt(sensitivity * specificity)


#: Fitness measures by name (an :class:`GPSettings` may also hold a function).
FITNESSES: dict[str, FitnessMeasure] = {"ave": balanced_accuracy, "gmean": binary_gmean}


# --- programs ---------------------------------------------------------------------------


def protected_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, and 1 where |b| is (nearly) zero: Koza's closure for division."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.ones(np.broadcast_shapes(a.shape, b.shape))
    np.divide(a, b, out=out, where=np.abs(b) > DIVISION_EPSILON)
    return out


#: The function set, by the names programs are written with.
FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": protected_div}


def _constant(low: float, high: float) -> float:
    return random.uniform(low, high)


def primitive_set(n_features: int, constants: tuple[float, float] = (-1.0, 1.0)
                  ) -> gp.PrimitiveSet:
    """Functions {add, sub, mul, div}, features ``x0 .. x{f-1}``, and ephemeral constants
    drawn uniformly from ``constants``."""
    pset = gp.PrimitiveSet("features", n_features)
    for name, function in FUNCTIONS.items():
        pset.addPrimitive(function, 2, name=name)
    pset.addEphemeralConstant("const", partial(_constant, *constants))
    pset.renameArguments(**{f"ARG{i}": f"x{i}" for i in range(n_features)})
    return pset


def compile_program(expression: str, n_features: int) -> Callable[[np.ndarray], np.ndarray]:
    """The program ``expression`` (as :attr:`Program.expression` writes it) as a function
    of a feature matrix ``[n, n_features]`` returning one score per row.

    Compiled as ``gp.compile`` does, but against the function set alone: building a
    primitive set per call would add an ephemeral class to DEAP's global cache each time.
    """
    arguments = ", ".join(f"x{i}" for i in range(n_features))
    function = eval(f"lambda {arguments}: {expression}", {"__builtins__": {}, **FUNCTIONS})

    def score(x: np.ndarray) -> np.ndarray:
        x = _matrix(x, n_features)
        with np.errstate(all="ignore"):  # overflow and 0 * inf are the program's business
            out = function(*x.T)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), (len(x),)).copy()

    return score


def program_fitness(expression: str, x: np.ndarray, positive: np.ndarray,
                    fitness: str | FitnessMeasure = "ave") -> float:
    """The fitness a program has on ``(x, positive)``: what :func:`evolve` maximises."""
    x = _matrix(x)
    return _measure(fitness)(compile_program(expression, x.shape[1])(x), _labels(positive, x))


@dataclass(frozen=True)
class Program:
    """An evolved program: its expression, what it scored, and how the run went.

    Call it (or :meth:`score`) on a feature matrix with the same columns it was evolved
    on. ``history`` has one record per generation (0 = the initial population):
    ``generation``, ``best`` and ``mean`` fitness, ``best_size`` (nodes) and
    ``evaluated`` (programs run that generation; repeats are looked up).
    """

    expression: str
    n_features: int
    fitness: float
    size: int
    height: int
    history: tuple[dict[str, float], ...] = field(repr=False)

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row of ``x``; ``>= 0`` means positive."""
        return compile_program(self.expression, self.n_features)(x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.score(x)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class GPSettings:
    """How a run evolves; the defaults are the typical values (docs/classical.md).

    ``fitness`` is a name from :data:`FITNESSES` or a function ``(scores, positive) ->
    float``; ``hall_of_fame`` programs pass unchanged to each next generation.
    """

    population: int = 500
    generations: int = 50
    crossover: float = 0.6
    mutation: float = 0.35
    tournament: int = 7
    init_depth: tuple[int, int] = (2, 6)
    max_height: int = 17
    hall_of_fame: int = 1
    constants: tuple[float, float] = (-1.0, 1.0)
    fitness: str | FitnessMeasure = "ave"

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ValueError(f"population must be at least 2, got {self.population}")
        if self.generations < 0:
            raise ValueError(f"generations must be >= 0, got {self.generations}")
        if not 1 <= self.hall_of_fame < self.population:
            raise ValueError(f"hall_of_fame must be in [1, population), got {self.hall_of_fame}")
        if min(self.crossover, self.mutation) < 0 or self.crossover + self.mutation > 1:
            raise ValueError("crossover and mutation are probabilities summing to at most 1")
        if not 0 <= self.init_depth[0] <= self.init_depth[1] <= self.max_height:
            raise ValueError(f"init_depth {self.init_depth} must be ordered and within "
                             f"max_height {self.max_height}")
        _measure(self.fitness)


def evolve(x: np.ndarray, positive: np.ndarray, *, seed: int,
           settings: GPSettings | None = None) -> Program:
    """Evolve a program separating ``positive`` rows of ``x`` from the rest.

    Deterministic for a seed; the caller's global ``random`` state is restored afterwards.
    """
    x = _matrix(x)
    positive = _labels(positive, x)
    state = random.getstate()
    try:
        random.seed(seed)
        return _Run(x, positive, settings or GPSettings()).evolve()
    finally:
        random.setstate(state)


# --- one-vs-rest ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class OneVsRestPrograms:
    """One program per class ("class k versus the rest"), decided as their fitness
    rewarded them: the programs whose output is ``>= 0`` claim the particle, and one claim
    is its class. Several claims, or none, are settled by :func:`claim_scores`: each
    output over its robust spread on the fitting rows, squashed, so that the heavy tail
    protected division gives some programs cannot outweigh the others."""

    programs: tuple[Program, ...]
    scales: np.ndarray  # each program's robust spread on the fitting rows (robust_scales)

    @classmethod
    def fitted(cls, programs: Sequence[Program], x: np.ndarray) -> OneVsRestPrograms:
        """The programs, with their spreads measured on the fitting rows ``x``."""
        programs = tuple(programs)
        return cls(programs, robust_scales(_clipped_outputs(programs, _matrix(x))))

    def scores(self, x: np.ndarray) -> np.ndarray:
        """``[n, K]`` :func:`claim_scores`: a row's largest is its class."""
        return claim_scores(_clipped_outputs(self.programs, x), self.scales)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class of each row: its one claimant, else the best robust score."""
        return self.scores(x).argmax(axis=1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax of :meth:`scores`: rows sum to one and their argmax is
        :meth:`predict`; a claim gets at least e^2 times a non-claim's probability."""
        return softmax(self.scores(x))


def evolve_one_vs_rest(x: np.ndarray, labels: np.ndarray, num_classes: int, *, seed: int,
                       settings: GPSettings | None = None) -> OneVsRestPrograms:
    """One :func:`evolve` per class, each with its own seed derived from ``seed``."""
    x = _matrix(x)
    labels = np.asarray(labels)
    programs = [evolve(x, labels == k, seed=derived_seed(seed, k), settings=settings)
                for k in range(num_classes)]
    return OneVsRestPrograms.fitted(programs, x)


def robust_scales(outputs: np.ndarray) -> np.ndarray:
    """Per column of ``outputs [n, K]``: the median absolute deviation, a program's
    typical spread that a few huge outputs (protected division) do not move.

    Where more than half the rows share one value (MAD 0), the median deviation of the
    rows that differ; 1 for a constant program.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    deviations = np.abs(outputs - np.median(outputs, axis=0))
    return np.array([_spread(column) for column in deviations.T])


def _spread(deviations: np.ndarray) -> float:
    mad = float(np.median(deviations))
    if mad > 0:
        return mad
    differing = deviations[deviations > 0]
    return float(np.median(differing)) if differing.size else 1.0


def claim_scores(outputs: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``[n, K]`` scores whose row-wise argmax is the decision: :data:`CLAIM_BONUS` where
    a program claims the row (output ``>= 0``), plus its output over its scale squashed
    into ``(-1, 1)``.

    A claim thus always outranks a non-claim, and among several claims (or none) the
    most confident relative to its own spread wins, by a bounded margin. arctan, not
    tanh: tanh rounds to exactly 1 beyond about 19 spreads, tying heavy-tailed claims,
    while arctan keeps their order up to about 1e15 spreads.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    with np.errstate(over="ignore"):  # output / a tiny scale may be inf: arctan is pi/2
        squashed = np.arctan(outputs / scales) * (2 / np.pi)
    return CLAIM_BONUS * (outputs >= 0) + squashed


def derived_seed(seed: int, *keys: int) -> int:
    """An independent seed for a part of a run (a class, a member)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large values."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _clipped_outputs(programs: Sequence[Program], x: np.ndarray) -> np.ndarray:
    """``[n, K]`` finite outputs: NaN as strongly negative (as fitness counts it), then
    clipped to +- :data:`OUTPUT_LIMIT` so that one overflow cannot blow up a scale."""
    out = np.stack([program.score(x) for program in programs], axis=1)
    return np.nan_to_num(out, nan=-OUTPUT_LIMIT).clip(-OUTPUT_LIMIT, OUTPUT_LIMIT)


# --- the run ----------------------------------------------------------------------------


class _Fitness(base.Fitness):
    weights = (1.0,)


class _Tree(gp.PrimitiveTree):
    """A program with its fitness: what ``creator.create`` would make, without adding a
    class to DEAP's global ``creator`` module."""

    def __init__(self, content) -> None:
        super().__init__(content)
        self.fitness = _Fitness()


class _Run:
    """One evolution; holds the operators and a cache of fitness by expression."""

    def __init__(self, x: np.ndarray, positive: np.ndarray, settings: GPSettings) -> None:
        self.settings = settings
        self.columns = {f"x{i}": column for i, column in enumerate(np.ascontiguousarray(x.T))}
        self.n = len(x)
        self.positive = positive
        self.measure = _measure(settings.fitness)
        self.pset = primitive_set(x.shape[1], settings.constants)
        self.functions = {name: self.pset.context[name] for name in FUNCTIONS}
        self.cache: dict[tuple, float] = {}
        limit = gp.staticLimit(operator.attrgetter("height"), settings.max_height)
        grow = partial(gp.genFull, min_=0, max_=2)
        self.mate = limit(gp.cxOnePoint)
        self.mutate = limit(partial(gp.mutUniform, expr=grow, pset=self.pset))

    def evolve(self) -> Program:
        s = self.settings
        low, high = s.init_depth
        population = [_Tree(gp.genHalfAndHalf(self.pset, low, high))
                      for _ in range(s.population)]
        hall = tools.HallOfFame(s.hall_of_fame)
        history = [self._step(0, population, hall)]
        for generation in range(1, s.generations + 1):
            parents = tools.selTournament(population, s.population - s.hall_of_fame,
                                          tournsize=s.tournament)
            offspring = self._vary([copy.deepcopy(p) for p in parents])
            population = offspring + [copy.deepcopy(best) for best in hall]
            history.append(self._step(generation, population, hall))
        best = hall[0]
        return Program(str(best), len(self.columns), float(best.fitness.values[0]),
                       len(best), best.height, tuple(history))

    def _vary(self, offspring: list[_Tree]) -> list[_Tree]:
        """Per pair: crossover, else mutation of both, else copies (probabilities from
        the settings); a child over the height limit is replaced by a parent."""
        s = self.settings
        for i in range(0, len(offspring), 2):
            pair = offspring[i:i + 2]
            draw = random.random()
            if draw < s.crossover and len(pair) == 2:
                pair = list(self.mate(*pair))
            elif draw < s.crossover + s.mutation:
                pair = [self.mutate(tree)[0] for tree in pair]
            else:
                continue
            for j, tree in enumerate(pair):
                del tree.fitness.values
                offspring[i + j] = tree
        return offspring

    def _step(self, generation: int, population: list[_Tree], hall: tools.HallOfFame
              ) -> dict[str, float]:
        evaluated = 0
        for tree in population:
            if not tree.fitness.valid:
                value, new = self._fitness(tree)
                tree.fitness.values = (value,)
                evaluated += new
        hall.update(population)
        values = np.array([tree.fitness.values[0] for tree in population])
        return {"generation": generation, "best": float(values.max()),
                "mean": float(values.mean()), "best_size": len(hall[0]),
                "evaluated": evaluated}

    def _fitness(self, tree: _Tree) -> tuple[float, bool]:
        key = tuple(node.value if node.arity == 0 else node.name for node in tree)
        if key in self.cache:
            return self.cache[key], False
        scores = self._interpret(tree)
        value = self.measure(np.broadcast_to(scores, (self.n,)), self.positive)
        self.cache[key] = value
        return value, True

    def _interpret(self, tree: _Tree) -> np.ndarray | float:
        """The tree's output over whole columns: one numpy operation per function node
        (cheaper than compiling each program's source, which dominates otherwise)."""
        stack: list[np.ndarray | float] = []
        with np.errstate(all="ignore"):
            for node in reversed(tree):  # prefix order reversed: arguments come first
                if node.arity == 0:
                    value = node.value
                    stack.append(self.columns[value] if isinstance(value, str) else value)
                else:
                    args = [stack.pop() for _ in range(node.arity)]
                    stack.append(self.functions[node.name](*args))
        return stack[0]


# --- input checks -----------------------------------------------------------------------


def _matrix(x: np.ndarray, n_features: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a feature matrix [n, f], got shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"the program reads {n_features} features, x has {x.shape[1]}")
    return x


def _labels(positive: np.ndarray, x: np.ndarray) -> np.ndarray:
    positive = np.asarray(positive)
    if positive.shape != (len(x),) or positive.dtype != bool:
        raise ValueError(f"positive must be a boolean vector of {len(x)} values")
    if positive.all() or not positive.any():
        raise ValueError("positive must mark some rows and leave some unmarked")
    return positive


def _measure(fitness: str | FitnessMeasure) -> FitnessMeasure:
    if callable(fitness):
        return fitness
    if fitness not in FITNESSES:
        raise ValueError(f"unknown fitness {fitness!r}; choose from {sorted(FITNESSES)}")
    return FITNESSES[fitness]
