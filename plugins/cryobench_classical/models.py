"""The paper's classical models: GSVM-RU and genetic programming, one-vs-rest."""

from __future__ import annotations

from dataclasses import asdict

from cryobench.api import FitContext, FitReport, Param
from cryobench_classical.base import ClassicalModel, FeatureData, Scorer, per_class
from cryobench_classical.features import FEATURE_PARAMS
from cryobench_classical.gsvm import AGGREGATIONS, one_vs_rest_gsvm
from cryobench_classical.selection import selection_rows

#: cryobench_genetic_programming's fitness names (imported when fitting: DEAP stays out of listings).
FITNESS_CHOICES = ("ave", "gmean")
GAMMA_UNITS = ("in units of 1 / number of features (1.0 is scikit-learn's 'scale' on "
               "standardised features)")


class GSVMRU(ClassicalModel):
    """Granular SVMs with repetitive undersampling (Tang et al. 2009), one per class;
    C, gamma and the number of granules are chosen on the validation split."""

    name = "gsvm_ru"
    summary = "granular SVMs with repetitive undersampling (Tang et al. 2009), one-vs-rest"
    min_per_class = 2  # one-vs-rest, and a stratified holdout without validation
    params = (
        *FEATURE_PARAMS,
        Param("aggregation", str, "discard", "aggregate SVM: positives + the last granule "
              "('discard') or + every granule so far ('combine')", choices=AGGREGATIONS),
        Param("C", list, [0.1, 1.0, 10.0], "SVM C values tried on the validation split",
              items=float, low=1e-6, min_len=1),
        Param("gamma", list, [0.5, 1.0, 2.0], f"RBF gamma values tried, {GAMMA_UNITS}",
              items=float, low=1e-6, min_len=1),
        Param("max_granules", int, 10, "most granules extracted per class", low=1),
    )

    def fit_on_features(self, data: FeatureData, context: FitContext
                        ) -> tuple[Scorer, FitReport]:
        rows = selection_rows(data.x, data.labels, data.x_val, data.val_labels,
                              data.num_classes, context.seed)
        gammas = [g / data.x.shape[1] for g in self.gamma]
        model = one_vs_rest_gsvm(rows.x, rows.labels, rows.x_select, rows.select_labels,
                                 data.num_classes, Cs=self.C, gammas=gammas,
                                 aggregation=self.aggregation, max_granules=self.max_granules)
        names, fits = data.class_names, model.models
        figures = {
            "selection": rows.source,
            "C": per_class(names, [fit.C for fit in fits]),
            "gamma": per_class(names, [self.gamma[gammas.index(fit.gamma)] for fit in fits]),
            "granules": per_class(names, [fit.granules for fit in fits]),
            "selection_gmean": per_class(names, [fit.gmean for fit in fits]),
        }
        parts = {f"class {name}": FitReport(
            {"granules": fit.granules, "stop": fit.stop,
             "support_vectors": int(len(fit.svm.support_))},
            [asdict(step) for step in fit.steps]) for name, fit in zip(names, fits)}
        return model, FitReport(figures, parts=parts)


class GPClassifier(ClassicalModel):
    """One evolved program per class (cryobench_genetic_programming); a particle's class is the one whose
    program claims it (output >= 0), as the fitness rewarded; several claims or none are
    settled by a bounded, robust score (cryobench_genetic_programming.claim_scores)."""

    name = "gp_classifier"  # in every trial key: a file may say genetic_programming_classifier
    aliases = ("genetic_programming_classifier",)
    summary = "genetic programming (DEAP), one program per class versus the rest"
    revision = 1  # 1: decided by the programs' claims (output >= 0), not standardised argmax
    min_per_class = 2  # one-vs-rest: a program needs positives to learn from
    params = (
        *FEATURE_PARAMS,
        Param("population", int, 500, "programs per generation", low=2),
        Param("generations", int, 50, "generations evolved", low=1),
        Param("fitness", str, "ave", "what a program maximises on the training split: "
              "balanced accuracy (AVE) or the binary G-mean", choices=FITNESS_CHOICES),
    )

    def fit_on_features(self, data: FeatureData, context: FitContext
                        ) -> tuple[Scorer, FitReport]:
        from cryobench_genetic_programming import GPSettings, evolve_one_vs_rest

        settings = GPSettings(population=self.population, generations=self.generations,
                              fitness=self.fitness)
        model = evolve_one_vs_rest(data.x, data.labels, data.num_classes, seed=context.seed,
                                   settings=settings)
        names, programs = data.class_names, model.programs
        figures = {
            "best_fitness": per_class(names, [p.fitness for p in programs]),
            "program_size": per_class(names, [p.size for p in programs]),
            "val_fitness": per_class(names, [self._val_fitness(p.expression, data, k)
                                             for k, p in enumerate(programs)]),
        }
        parts = {f"class {name}": FitReport(
            {"program": p.expression, "fitness": p.fitness, "size": p.size,
             "height": p.height}, list(p.history)) for name, p in zip(names, programs)}
        return model, FitReport(figures, parts=parts)

    def _val_fitness(self, expression: str, data: FeatureData, k: int) -> float | None:
        """The program's fitness on the validation split, where it has both sides."""
        from cryobench_genetic_programming import program_fitness

        positive = data.val_labels == k
        if positive.all() or not positive.any():
            return None
        return program_fitness(expression, data.x_val, positive, self.fitness)
