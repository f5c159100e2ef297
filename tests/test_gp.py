"""The tree-GP engine: fitness as defined, evolution that learns, seeding that repeats
and leaves global random state alone."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from cryobench.gp import (
    GPSettings, balanced_accuracy, binary_gmean, compile_program, evolve,
    evolve_one_vs_rest, program_fitness, protected_div,
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


def test_one_vs_rest_programs_give_probabilities_whose_argmax_is_the_class():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [120, 30, 20])
    centres = np.array([[0.0, 0.0], [2.5, 0.0], [0.0, 2.5]])
    x = centres[labels] + rng.normal(scale=0.6, size=(len(labels), 2))
    model = evolve_one_vs_rest(x, labels, 3, seed=0, settings=SMALL)
    assert len(model.programs) == 3
    p = model.predict_proba(x)
    assert p.shape == (len(x), 3) and np.allclose(p.sum(1), 1.0)
    assert score(labels, p.argmax(1), ("a", "b", "c")).macro_gmean > 0.85
    # standardised on the training rows: mean 0 and spread 1 per program
    z = model.standardised(x)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-9)


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
