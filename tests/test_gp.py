"""The tree-GP engine: fitness as defined, evolution that learns, seeding that repeats
and leaves global random state alone, and K classes decided as the fitness rewarded."""

from __future__ import annotations

import json
import math
import pickle
import random

import numpy as np
import pytest

from cryobench_genetic_programming import (
    GPSettings, OneVsRestPrograms, Program, balanced_accuracy, binary_gmean, claim_scores,
    compile_program, evolve, evolve_one_vs_rest, program_fitness, protected_div,
    robust_scales,
)
from cryobench.metrics import score

SMALL = GPSettings(population=60, generations=8)

# rows:           0     1     2     3     4
X = np.array([[1.0, 0.0], [-1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, -1.0]])
POSITIVE = np.array([True, False, True, False, False])


def test_the_fitness_of_a_known_program_is_its_balanced_score_by_hand():
    # x0 - x1 = 1, -3, 4, 0, -1: positive (>= 0) for rows 0, 2, 3
    # positives 0 and 2 both found: 2/2; negatives 1, 3, 4: 1 and 4 right, 3 wrong: 2/3
    assert program_fitness("sub(x0, x1)", X, POSITIVE) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert program_fitness("sub(x0, x1)", X, POSITIVE, "gmean") == pytest.approx(
        math.sqrt(1 * 2 / 3))
    # x1 * -1 = 0, -2, 1, -0.5, 1: positive for rows 0, 2, 4 -> 2/2 and 2/3 again;
    # a constant that reads no feature scores every row alike: 1/2
    assert program_fitness("mul(x1, -1.0)", X, POSITIVE) == pytest.approx(5 / 6)
    assert program_fitness("0.25", X, POSITIVE) == pytest.approx(0.5)


def test_protected_division_returns_one_where_the_denominator_vanishes():
    np.testing.assert_array_equal(protected_div(np.array([3.0, 4.0]), np.array([0.0, 2.0])),
                                  [1.0, 2.0])
    # div(x0, x1 - x1) is 1 on every row: everything positive, balanced score 1/2
    assert program_fitness("div(x0, sub(x1, x1))", X, POSITIVE) == pytest.approx(0.5)
    scores = compile_program("div(x0, sub(x1, x1))", 2)(X)
    np.testing.assert_array_equal(scores, np.ones(5))


def test_fitness_measures_count_nan_scores_as_negative():
    scores = np.array([1.0, np.nan, 2.0, np.nan])
    positive = np.array([True, True, False, False])
    assert balanced_accuracy(scores, positive) == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert binary_gmean(scores, positive) == pytest.approx(0.5)


def _imbalanced_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About 12% positives: the corner x0 > 0.7 and x1 > 0.3 of a 2-D Gaussian."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] > 0.7) & (x[:, 1] > 0.3)


def test_evolution_beats_the_majority_class_on_macro_gmean():
    x, positive = _imbalanced_problem(300, seed=0)
    x_test, positive_test = _imbalanced_problem(300, seed=1)
    assert 0.05 < positive.mean() < 0.2
    program = evolve(x, positive, seed=3, settings=SMALL)
    predicted = (program(x_test) >= 0).astype(int)
    gmean = score(positive_test.astype(int), predicted, ("rest", "k")).macro_gmean
    majority = score(positive_test.astype(int), np.zeros(len(x_test), int), ("rest", "k"))
    assert majority.macro_gmean == 0.0
    assert gmean > 0.8
    # the run is recorded: one record per generation, the best never lost (elitism)
    assert [h["generation"] for h in program.history] == list(range(SMALL.generations + 1))
    best = [h["best"] for h in program.history]
    assert best == sorted(best) and best[-1] == pytest.approx(program.fitness)
    assert program.fitness > program.history[0]["mean"]
    json.dumps(program.history)  # plain data for a fit report


def test_the_program_string_scores_as_the_evolved_tree_did():
    x, positive = _imbalanced_problem(200, seed=2)
    program = evolve(x, positive, seed=5, settings=SMALL)
    # evolution interprets trees node by node; the string compiles: both must agree
    assert program_fitness(program.expression, x, positive) == program.fitness
    assert str(program) == program.expression and program.size >= 1
    assert program.height <= SMALL.max_height


def test_one_seed_gives_one_program_and_global_random_state_is_untouched():
    x, positive = _imbalanced_problem(200, seed=4)
    random.seed(123)
    np.random.seed(7)
    before = random.getstate(), repr(np.random.get_state())
    first = evolve(x, positive, seed=11, settings=SMALL)
    assert (random.getstate(), repr(np.random.get_state())) == before
    second = evolve(x, positive, seed=11, settings=SMALL)
    assert first.expression == second.expression and first.history == second.history
    other = evolve(x, positive, seed=12, settings=SMALL)
    assert other.history != first.history


def test_global_random_state_is_restored_when_evolution_fails():
    before = random.getstate()

    def broken(scores, positive):
        raise RuntimeError("measure failed")

    with pytest.raises(RuntimeError, match="measure failed"):
        evolve(X, POSITIVE, seed=1, settings=GPSettings(population=4, generations=1,
                                                        fitness=broken))
    assert random.getstate() == before


def _clusters(counts: list[int], *, distance: float, scale: float, seed: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in 2D: at the origin and ``distance`` along each axis."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], counts)
    centres = np.array([[0.0, 0.0], [distance, 0.0], [0.0, distance]])
    return centres[labels] + rng.normal(scale=scale, size=(len(labels), 2)), labels


def test_one_vs_rest_programs_give_probabilities_whose_argmax_is_the_class():
    x, labels = _clusters([120, 30, 20], distance=2.5, scale=0.6, seed=0)
    model = evolve_one_vs_rest(x, labels, 3, seed=0, settings=SMALL)
    assert len(model.programs) == 3
    p = model.predict_proba(x)
    assert p.shape == (len(x), 3) and np.allclose(p.sum(1), 1.0)
    np.testing.assert_array_equal(p.argmax(1), model.predict(x))
    assert score(labels, p.argmax(1), ("a", "b", "c")).macro_gmean > 0.85
    # kept with its trial: pickles, and predicts the same afterwards
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(x), p)


# --- deciding K classes ---------------------------------------------------------------------


def _given(*expressions: str, n_features: int) -> tuple[Program, ...]:
    """Hand-written programs, as if evolved."""
    return tuple(Program(e, n_features, math.nan, 1, 0, ()) for e in expressions)


def test_exact_programs_give_the_exact_labels():
    # three well-separated classes: every evolved program is perfect on its rows
    x, labels = _clusters([60, 12, 8], distance=6.0, scale=0.5, seed=1)
    model = evolve_one_vs_rest(x, labels, 3, seed=2, settings=SMALL)
    assert [p.fitness for p in model.programs] == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(model.predict(x), labels)


def test_a_program_with_a_huge_tail_does_not_flatten_the_others():
    # each column is one program's output, exact: >= 0 exactly on its class. Program 1
    # reaches 1e8 on three rows, as protected division does; program 0 is far below zero
    # on class 2 and just below on class 1. Standardised by mean and spread, program 1's
    # ordinary claims sit below its mean (about -0.2) while program 0's near misses on
    # class 1 sit above its own (about +0.6): class 1 went to class 0.
    labels = np.repeat([0, 1, 2], 20)
    outputs = np.array([[1.0, -1.0, -1.0], [-0.1, 1.0, -1.0], [-10.0, -1.0, 1.0]])[labels]
    outputs[[20, 21, 22], 1] = 1e8
    model = OneVsRestPrograms.fitted(_given("x0", "x1", "x2", n_features=3), outputs)
    np.testing.assert_array_equal(model.predict(outputs), labels)
    np.testing.assert_array_equal(model.predict_proba(outputs).argmax(1), labels)
    assert model.scales[1] == pytest.approx(2.0)  # the tail does not reach the spread


def test_several_claims_or_none_are_settled_by_a_bounded_robust_score():
    scales = np.array([100.0, 1.0, 1.0])
    outputs = np.array([
        [-5.0, -1.0, -3.0],  # no claim: -0.05 spreads beats -1, though -5 < -1
        [50.0, 2.0, -1.0],  # two claims: 2 spreads beat 0.5, though 50 > 2
        [0.0, -1e-3, -1e-3],  # one claim, at the threshold: it wins
        [1e9, 1e-6, -1e9],  # bounded: a huge claim does not erase a small one
    ])
    model = OneVsRestPrograms(_given("x0", "x1", "x2", n_features=3), scales)
    np.testing.assert_array_equal(model.predict(outputs), [0, 1, 0, 0])
    scores = claim_scores(outputs, scales)
    claims = outputs >= 0
    assert (scores[claims] >= 2).all() and (scores[claims] <= 3).all()
    assert (scores[~claims] >= -1).all() and (scores[~claims] < 0).all()
    p = model.predict_proba(outputs)
    np.testing.assert_allclose(p.sum(1), 1.0)
    # claims share their mass within a factor e; each has e^2 times any non-claim's
    assert p[3, 0] / p[3, 1] <= math.e + 1e-9 and p.min() > 0
    for row, claimed in zip(p, claims):
        if claimed.any() and not claimed.all():
            assert row[claimed].min() >= math.e ** 2 * row[~claimed].max() * (1 - 1e-9)


def test_robust_scales_are_median_absolute_deviations_that_ignore_a_tail():
    outputs = np.array([[1.0, 1.0, 2.0], [2.0, 1.0, 2.0], [3.0, 1.0, 2.0], [4.0, 5.0, 2.0],
                        [1e8, 9.0, 2.0]])
    # column 0: median 3, deviations 2, 1, 0, 1, ~1e8 -> 1; column 1: median 1, most rows
    # equal it -> the median deviation of the others (4, 8) = 6; column 2: constant -> 1
    np.testing.assert_allclose(robust_scales(outputs), [1.0, 6.0, 1.0])


def _base_outputs(counts: list[int], seed: int, accuracy: float = 0.95
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A good base classifier's probabilities (mostly one-hot on its guess), plus noise:
    (features, true labels, the base's guesses)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    k = len(counts)
    guess = labels.copy()
    wrong = rng.random(len(labels)) > accuracy
    guess[wrong] = (labels[wrong] + rng.integers(1, k, wrong.sum())) % k
    p = 0.7 * np.eye(k)[guess] + 0.3 * rng.dirichlet(np.ones(k), len(labels))
    return p + rng.normal(scale=0.05, size=p.shape), labels, guess


@pytest.mark.parametrize("seed", range(6))
def test_combining_a_near_perfect_base_stays_near_its_accuracy(seed):
    counts = [60, 10, 15, 30]
    x, labels, _ = _base_outputs(counts, seed)
    x_test, labels_test, guess_test = _base_outputs(counts, 100 + seed)
    model = evolve_one_vs_rest(x, labels, 4, seed=seed,
                               settings=GPSettings(population=100, generations=20))
    predicted = model.predict(x_test)
    names = ("a", "b", "c", "d")
    base = score(labels_test, guess_test, names).macro_f1
    assert (predicted == labels_test).mean() >= (guess_test == labels_test).mean() - 0.05
    assert score(labels_test, predicted, names).macro_f1 >= base - 0.1


@pytest.mark.parametrize(("settings", "message"), [
    ({"population": 1}, "population must be at least 2"),
    ({"crossover": 0.7, "mutation": 0.5}, "summing to at most 1"),
    ({"fitness": "accuracy"}, "unknown fitness 'accuracy'"),
    ({"init_depth": (2, 20)}, "within max_height"),
])
def test_settings_that_cannot_run_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        GPSettings(**settings)


def test_inputs_that_are_not_a_binary_problem_are_refused():
    with pytest.raises(ValueError, match="some rows and leave some unmarked"):
        evolve(X, np.ones(5, bool), seed=0, settings=SMALL)
    with pytest.raises(ValueError, match=r"feature matrix \[n, f\]"):
        evolve(X[:, 0], POSITIVE, seed=0, settings=SMALL)
    with pytest.raises(ValueError, match="reads 2 features, x has 3"):
        compile_program("x0", 2)(np.zeros((4, 3)))
