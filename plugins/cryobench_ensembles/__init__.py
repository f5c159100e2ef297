"""First-party ensembles: each wraps any model, first- or third-party, neural or
classical, by calling its ``fit``. Samplers compose with all of them (the sampler's
output is the training split an ensemble gets)."""

from __future__ import annotations

from cryobench.api import ArmSetup, Ensemble, Param, ParamError, hookimpl


class SingleModel(Ensemble):
    """One model, trained once: the reference every ensemble is compared against."""

    name = "none"
    summary = "a single model, no ensemble"
    plain = True

    def fit(self, model, train, val, context):
        return model.fit(train, val, context)


def _smallest_training_class(setup: ArmSetup) -> tuple[str, int] | None:
    """The rarest class and about how many particles it has in the training part."""
    if not setup.class_counts:
        return None
    name, count = min(setup.class_counts.items(), key=lambda item: item[1])
    share = (1 - setup.split.test_fraction) * (1 - setup.split.val_fraction)
    return name, int(count * share)


class Bagging(Ensemble):
    """Bootstrap replicas of the (already resampled) training split, one member each;
    the prediction is the mean of the members' probabilities (a soft vote)."""

    name = "bagging"
    summary = "bagging or UnderBagging (scikit-learn / imbalanced-learn), soft vote"
    revision = 1  # 1: the members share the split's stage 1 (before: one per member seed)
    params = (
        Param("members", int, 5, "bootstrap replicas, one member each", low=1),
        Param("balanced", bool, False, "class-balanced bags (UnderBagging: each bag "
              "undersampled to the rarest class)"),
        Param("share_stage1", bool, True, "members reuse what the model learns from the "
              "whole training split first (the multi-path CNN's cached stage-1 paths); "
              "false: each member learns it from its own bag"),
    )

    def check_setup(self, setup: ArmSetup) -> None:
        rarest = _smallest_training_class(setup)
        if self.balanced and rarest is not None and rarest[1] < 2:
            raise ParamError("balanced", f"class {rarest[0]!r} has about {rarest[1]} training "
                                         "particles; a class-balanced bag needs 2 per class")

    def fit(self, model, train, val, context):
        from cryobench_ensembles.bagging import fit_bagging

        return fit_bagging(model, train, val, context, members=self.members,
                           balanced=self.balanced, share_stage1=self.share_stage1)


class Boosting(Ensemble):
    """SAMME: each member concentrates on what the previous ones got wrong; the
    prediction is the members' probabilities weighted by their a_m."""

    name = "boosting"
    summary = "SAMME multi-class AdaBoost, member errors on particles it did not train on"
    # 1: out-of-bag error weighted by w_i / P(i left out), not a plain mean; the members
    # share the split's stage 1
    revision = 1
    params = (
        Param("members", int, 5, "most members (fewer when one is no better than chance)",
              low=1),
        Param("mode", str, "resample", "how boosting weights reach a member: 'resample' "
              "(a bag drawn in proportion to them) or 'weights' (sample weights)",
              choices=("resample", "weights")),
        Param("error_on", str, "out_of_bag", "where a member's error is measured: the "
              "particles its bag left out, a uniformly drawn third of the split kept out "
              "of its training ('held_out': far less noisy), the validation part, or the "
              "training split (0 for a CNN that fits it perfectly)",
              choices=("out_of_bag", "held_out", "validation", "training")),
    )

    def check_setup(self, setup: ArmSetup) -> None:
        if self.mode == "weights" and not setup.model.sample_weight:
            raise ParamError("mode", "the model ignores sample weights (its capabilities "
                                     "say so); use mode = 'resample'")
        if self.error_on == "out_of_bag" and self.mode == "weights":
            raise ParamError("error_on", "'out_of_bag' needs mode = 'resample' (with "
                                         "weights every particle trains every member)")
        if self.error_on == "validation" and setup.split.val_fraction == 0:
            raise ParamError("error_on", "'validation' needs a validation part; raise "
                                         "[split] val_fraction")

    def fit(self, model, train, val, context):
        from cryobench_ensembles.boosting import fit_boosting

        return fit_boosting(model, train, val, context, members=self.members,
                            mode=self.mode, error_on=self.error_on)


class GeneticProgramming(Ensemble):
    """A DEAP tree program per class combines the outputs of the model's parts (the
    multi-path CNN's paths and head) or of bagging-style members of any other model."""

    name = "gp"  # in every trial key of this ensemble: a file may say genetic_programming
    aliases = ("genetic_programming",)
    summary = "genetic programming (DEAP): an evolved combination of parts or members"
    revision = 1  # 1: decided by the programs' claims (output >= 0), not standardised argmax
    params = (
        Param("population", int, 500, "programs per generation", low=2),
        Param("generations", int, 50, "generations of evolution", low=0),
        Param("crossover", float, 0.6, "crossover probability", low=0.0, high=1.0),
        Param("mutation", float, 0.35, "mutation probability", low=0.0, high=1.0),
        Param("fitness", str, "ave", "ave: mean of the class's and the rest's accuracy; "
              "gmean: their geometric mean", choices=("ave", "gmean")),
        Param("members", int, 3, "bagging members to combine when the model has no parts "
              "of its own", low=1),
    )

    def check_setup(self, setup: ArmSetup) -> None:
        if setup.split.val_fraction == 0:
            raise ParamError("", "evolves its programs on the validation part, and [split] "
                                 "val_fraction = 0 leaves none; raise it")
        if self.crossover + self.mutation > 1:
            raise ParamError("mutation", f"crossover {self.crossover} + mutation "
                                         f"{self.mutation} exceeds 1 (they are exclusive)")

    def fit(self, model, train, val, context):
        from cryobench_genetic_programming import GPSettings
        from cryobench_ensembles.gp_combiner import fit_gp

        settings = GPSettings(population=self.population, generations=self.generations,
                              crossover=self.crossover, mutation=self.mutation,
                              fitness=self.fitness)
        return fit_gp(model, train, val, context, members=self.members, settings=settings)


@hookimpl
def cryobench_register_ensembles() -> list[type[Ensemble]]:
    return [SingleModel, Bagging, Boosting, GeneticProgramming]
