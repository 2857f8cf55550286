"""The state and steps of one run (:class:`ActiveLearner`), its oracles and its seeds."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from al_core import strategies
from al_core.datasets import Dataset
from al_core.errors import ConfigError
from al_core.loop.config import SOURCES, TrialConfig, stop_set_size
from al_core.models import Classifier
from al_core.stopping import prediction_kappa

# Streams of the per-round random generators (see al_core.loop's docstring).
_STREAM_INITIAL, _STREAM_SELECT, _STREAM_FIT, _STREAM_AGREEMENT, _STREAM_MC = 0, 1, 2, 3, 4
_STREAM_MC_TEST = 5  # the test set's Monte-Carlo passes (test_measure "mc_mean")


class Oracle(Protocol):
    """Gives labels for pool indices. ``-1`` means "no label" (skipped / not sure)."""

    def __call__(self, indices: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class GroundTruthOracle:
    """The simulation oracle: the data set's own labels."""

    labels: np.ndarray  # (n_pool,)

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        return self.labels[indices]


def _rng(seed: int, stream: int, round_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, round_index]))


def mc_mean_metrics(mc_probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(accuracy, loss)`` of the mean of Monte-Carlo passes.

    ``mc_probs`` (T, n, K) are the passes' class probabilities, ``labels`` (n,) the
    true classes. The prediction is ``mean_t mc_probs[t]`` (n, K); accuracy is the
    share of rows whose argmax (ties to the lower class) is the label, loss the mean
    negative log of the label's mean probability (clipped at 1e-7, as Keras' cross
    entropy clips).
    """
    mean = np.asarray(mc_probs, dtype=np.float64).mean(axis=0)
    labels = np.asarray(labels)
    accuracy = float(np.mean(mean.argmax(axis=1) == labels))
    chosen = np.clip(mean[np.arange(len(labels)), labels], 1e-7, 1.0)
    return accuracy, float(-np.log(chosen).mean())


def _fit_seed(seed: int, round_index: int) -> int:
    state = np.random.SeedSequence([seed, _STREAM_FIT, round_index]).generate_state(1)
    return int(state[0] % (2**31 - 1))


def initial_indices(
    config: TrialConfig, pool_labels: np.ndarray, pool_images: np.ndarray | None = None
) -> np.ndarray:
    """The first labeled set: pool indices (initial,), int64.

    ``random``: uniform without replacement. ``balanced``: the same number per
    class (as in the BALD papers' 20 balanced labels; needs the ground truth,
    so simulation only). ``typical``: TypiClust on the pool's pixel features
    (:func:`al_core.strategies.typiclust`; needs ``pool_images``, no labels).
    ``given``: ``config.initial_indices``.
    """
    n_pool = len(pool_labels)
    if config.initial_mode == "given":
        chosen = np.asarray(config.initial_indices, dtype=np.int64)
        if chosen.min() < 0 or chosen.max() >= n_pool or len(np.unique(chosen)) != len(chosen):
            raise ConfigError(
                f"initial indices must be distinct pool indices in [0, {n_pool}); fix the list"
            )
        return chosen
    if config.initial > n_pool:
        raise ConfigError(
            f"initial labeled set ({config.initial}) is larger than the pool ({n_pool}); "
            "lower --initial or raise --pool-size"
        )
    rng = _rng(config.seed, _STREAM_INITIAL, 0)
    if config.initial_mode == "random":
        return np.sort(rng.choice(n_pool, size=config.initial, replace=False)).astype(np.int64)
    if config.initial_mode == "typical":
        if pool_images is None:
            raise ConfigError("initial mode 'typical' needs the pool's images")
        features = strategies.pixel_features(pool_images, seed=config.data_seed)
        picks = strategies.typiclust(features, np.zeros(n_pool, dtype=bool), config.initial, rng)
        return np.sort(picks).astype(np.int64)
    classes = np.unique(pool_labels)
    per_class, extra = divmod(config.initial, len(classes))
    chosen = []
    for position, cls in enumerate(rng.permutation(classes)):
        members = np.flatnonzero(pool_labels == cls)
        take = per_class + (1 if position < extra else 0)
        if take > len(members):
            raise ConfigError(
                f"class {cls} has only {len(members)} pool images, cannot take {take} "
                "for a balanced start; lower --initial"
            )
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def check_handover(config: TrialConfig, num_classes: int) -> None:
    """Refuse (:class:`ConfigError`, with the fix) an ``auto`` trial whose hand-over to its
    base score cannot happen within its budget: it would be ``typiclust`` under another
    name. ``num_classes``: the data set's."""
    budget = config.active_budget()
    handover = config.handover_per_class * num_classes
    if budget is None or handover < budget:
        return
    fits = (budget - 1) // num_classes
    fix = f"lower --handover-per-class to at most {fits}" if fits >= 1 else "raise the budget"
    raise ConfigError(
        f"strategy 'auto' hands over to {config.base_score} at {handover} labels "
        f"({config.handover_per_class} per class x {num_classes} classes), but the budget is "
        f"{budget} labels: it would never hand over. {fix[0].upper()}{fix[1:]}, or pick "
        "strategy typiclust"
    )


class ActiveLearner:
    """The state of one active-learning run over a data set's pool.

    Holds the labeled set (pool index → label, with its source), the
    classifier, and the steps of a round. Indices are always positions in
    ``dataset.x_pool``.
    """

    def __init__(
        self,
        dataset: Dataset,
        config: TrialConfig,
        *,
        classifier: Classifier | None = None,
    ) -> None:
        if config.strategy == "batchbald":  # refused before anything trains
            strategies.check_batchbald_memory(
                config.mc_samples,
                config.batch,
                dataset.num_classes,
                max_configurations=config.batchbald_configurations,
            )
        if config.strategy == "auto":
            check_handover(config, dataset.num_classes)
        self.dataset = dataset
        self.config = config
        self.classifier = classifier or Classifier(
            config.model,
            dataset.image_shape,
            dataset.num_classes,
            training=config.training(),
            seed=config.seed,
            weights=config.weights,
        )
        self.labels = np.full(len(dataset.x_pool), -1, dtype=np.int64)
        self.sources = np.full(len(dataset.x_pool), "", dtype=object)
        self.set_aside = np.zeros(len(dataset.x_pool), dtype=bool)  # skipped / not sure
        self.round = 0
        self.use_pseudo_labels = True
        self._probs: np.ndarray | None = None  # last pool probabilities, for auto-labeling
        self._embeddings: np.ndarray | None = None  # last pool embeddings
        self._pixel_features: np.ndarray | None = None  # label-free features, computed once
        self._agreement_rows: np.ndarray | None = None  # fixed subset for the stopping advice
        self._agreement_predictions: np.ndarray | None = None  # previous model's classes there

    # -- state ---------------------------------------------------------------
    def labeled_indices(self, *, include_pseudo: bool | None = None) -> np.ndarray:
        """Pool indices with a label, (n,) int64, ascending."""
        include = self.use_pseudo_labels if include_pseudo is None else include_pseudo
        mask = self.labels >= 0
        if not include:
            mask &= self.sources != "pseudo"
        return np.flatnonzero(mask)

    def unlabeled_indices(self) -> np.ndarray:
        """Pool indices still to be queried, (n,) int64: no label and not set aside."""
        return np.flatnonzero((self.labels < 0) & ~self.set_aside)

    def count(self, source: str | None = None) -> int:
        """Number of labels, all or of one ``source``."""
        if source is None:
            return int(np.count_nonzero(self.labels >= 0))
        return int(np.count_nonzero((self.labels >= 0) & (self.sources == source)))

    # -- steps -----------------------------------------------------------------
    def teach(
        self,
        indices: Sequence[int] | np.ndarray,
        labels: Sequence[int] | np.ndarray,
        source: str = "oracle",
    ) -> None:
        """Record labels for pool ``indices``; a label of ``-1`` sets the item aside."""
        if source not in SOURCES:
            raise ConfigError(f"unknown label source {source!r}; one of {', '.join(SOURCES)}")
        indices = np.asarray(indices, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        if indices.shape != labels.shape:
            raise ConfigError("teach() needs one label per index")
        if labels.size and labels.max() >= self.dataset.num_classes:
            raise ConfigError(
                f"label {labels.max()} out of range for {self.dataset.num_classes} classes"
            )
        given = labels >= 0
        self.labels[indices[given]] = labels[given]
        self.sources[indices[given]] = source
        self.set_aside[indices[~given]] = True

    def train_and_evaluate(self) -> dict[str, float | None]:
        """Train on the labeled set from the initial weights; evaluate on the test set.

        Also returns the stopping advice ``agreement``: the share of a fixed
        random subset of the pool (``config.agreement_size`` images, drawn once
        from the images unlabeled at the first training) whose predicted class
        is the same as under the previous round's model; None the first time.
        Once it stays near 1, more labels barely change the model.
        """
        chosen = self.labeled_indices()
        validation = None
        if self.dataset.x_val is not None and len(self.dataset.x_val):
            validation = (self.dataset.x_val, self.dataset.y_val)
        fit = self.classifier.fit(
            self.dataset.x_pool[chosen],
            self.labels[chosen],
            fit_seed=_fit_seed(self.config.seed, self.round),
            validation=validation,
        )
        start = time.perf_counter()
        accuracy, loss = self.test_metrics()
        self._probs = None
        self._embeddings = None
        agreement, kappa = self._agreement()
        return {
            "test_accuracy": accuracy,
            "test_loss": loss,
            "train_seconds": fit.seconds,
            "eval_seconds": time.perf_counter() - start,
            "epochs": fit.epochs,
            "steps": fit.steps,
            "agreement": agreement,
            "kappa": kappa,
        }

    def test_metrics(self) -> tuple[float, float]:
        """``(accuracy, loss)`` of the current model on the test set, by ``test_measure``.

        ``mc_mean`` (dropout models): the prediction is the mean of ``mc_samples``
        consistent Monte-Carlo passes (:func:`mc_mean_metrics`), the passes drawn from
        ``(seed, _STREAM_MC_TEST, round)``, as the BatchBALD paper measures test
        accuracy; ``dropout_off``: Keras' evaluation with dropout off.
        """
        x, y = self.dataset.x_test, self.dataset.y_test
        if self.config.test_measure != "mc_mean" or len(x) == 0:
            return self.classifier.evaluate(x, y)
        passes = self.classifier.predict_mc(
            x, self.config.mc_samples, seed=(self.config.seed, _STREAM_MC_TEST, self.round)
        )
        return mc_mean_metrics(passes, y)

    def _agreement(self) -> tuple[float | None, float | None]:
        """``(share, kappa)`` of the agreement subset predicted as by the previous model:
        the share of equal classes and Cohen's kappa between the two models'
        classes (:func:`al_core.stopping.prediction_kappa`); (None, None) at first."""
        if self.config.agreement_size == 0:
            return None, None
        self.draw_agreement_rows()
        assert self._agreement_rows is not None
        if len(self._agreement_rows) == 0:
            return None, None
        images = self.dataset.x_pool[self._agreement_rows]
        predicted = self.classifier.predict_proba(images).argmax(axis=1)
        previous, self._agreement_predictions = self._agreement_predictions, predicted
        if previous is None:
            return None, None
        kappa = prediction_kappa(previous, predicted, self.dataset.num_classes)
        return float(np.mean(previous == predicted)), kappa

    def draw_agreement_rows(self) -> None:
        """Draw the agreement subset once, from the images unlabeled now (the loop calls
        it after the initial labels, so that a replayed run excludes the same rows from
        its queries as the run it replays); later calls keep it."""
        if self._agreement_rows is None and self.config.agreement_size != 0:
            unlabeled = self.unlabeled_indices()
            pool_size = len(self.dataset.x_pool)
            size = min(stop_set_size(self.config.agreement_size, pool_size), len(unlabeled))
            rng = _rng(self.config.seed, _STREAM_AGREEMENT, 0)
            self._agreement_rows = np.sort(rng.choice(unlabeled, size=size, replace=False))

    def queryable_indices(self, needed: int = 1) -> np.ndarray:
        """:meth:`unlabeled_indices` less the agreement subset, (n,) int64: the stop set
        of the stabilizing-predictions rule is never queried (nor auto-labeled), or
        its kappa would measure images the model was taught. Once fewer than
        ``needed`` others are left (a batch's worth), the subset is queryable too, so
        that a run fills its batches and can use up its pool."""
        unlabeled = self.unlabeled_indices()
        if self._agreement_rows is None or len(self._agreement_rows) == 0:
            return unlabeled
        others = np.setdiff1d(unlabeled, self._agreement_rows, assume_unique=True)
        return others if len(others) >= max(needed, 1) else unlabeled

    def pool_probabilities(self) -> np.ndarray:
        """Current model's probabilities for the whole pool, (n_pool, K) float32.

        Predicting every row (labeled ones too) avoids copying the pool's
        images; the labeled rows are a tiny share of it.
        """
        if self._probs is None:
            self._probs = self.classifier.predict_proba(self.dataset.x_pool)
        return self._probs

    def pool_embeddings(self) -> np.ndarray:
        """Current model's penultimate-layer features of the whole pool, (n_pool, d) float32."""
        if self._embeddings is None:
            self._embeddings = self.classifier.embed(self.dataset.x_pool)
        return self._embeddings

    def pool_features(self) -> np.ndarray:
        """Features of the whole pool that need no labels, (n_pool, c) float32: PCA of
        the pixels (:func:`al_core.strategies.pixel_features`), computed once."""
        if self._pixel_features is None:
            self._pixel_features = strategies.pixel_features(
                self.dataset.x_pool, seed=self.config.data_seed
            )
        return self._pixel_features

    def handover_labels(self) -> int:
        """Labels at which ``auto`` hands over from typical images to its base score (and
        ``typiclust`` from pixel features to the model's embeddings):
        ``handover_per_class`` x the number of classes."""
        return self.config.handover_per_class * self.dataset.num_classes

    def picking_strategy(self) -> str:
        """The strategy that picks the next batch: the config's, except that ``auto`` is
        ``typiclust`` below :meth:`handover_labels` (human and oracle labels) and its
        base score from there on."""
        if self.config.strategy != "auto":
            return self.config.strategy
        given = self.count() - self.count("pseudo")
        return "typiclust" if given < self.handover_labels() else self.config.base_score

    def query(self, n: int) -> strategies.Selection:
        """Choose the next ``n`` pool items to label (indices into the pool).

        Scores the unlabeled pool less the agreement subset (:meth:`queryable_indices`),
        or a random candidate subset of it (the same for every strategy) when
        ``config.candidates`` is set, and applies the sweep protocol: a share
        ``fraction`` picked by the strategy, the rest at random. The classifier
        supplies what the strategy needs
        (:func:`strategies.inputs_needed`): probabilities, ``mc_samples``
        Monte-Carlo dropout passes, embeddings of the candidates and of the
        labeled set. Returned ``indices`` are pool indices.
        """
        config = self.config
        rng = _rng(config.seed, _STREAM_SELECT, self.round)
        unlabeled = self.queryable_indices(n)
        if len(unlabeled) == 0:
            raise ConfigError("the pool is empty: every item is labeled or set aside")
        n = min(n, len(unlabeled))
        subset = config.candidates is not None and config.candidates < len(unlabeled)
        if subset:
            unlabeled = np.sort(rng.choice(unlabeled, size=config.candidates, replace=False))
        strategy = self.picking_strategy()
        needed = strategies.inputs_needed(strategy, config.base_score)
        pool = self.dataset.x_pool
        if strategy == "typiclust":
            return self._query_typical(unlabeled, n, rng)
        # With a candidate subset, predict on it alone; otherwise predict the
        # whole pool once per round (cached) and take the unlabeled rows.
        probs = embeddings = labeled_embeddings = mc_probs = None
        if "probs" in needed:
            probs = (
                self.classifier.predict_proba(pool[unlabeled])
                if subset
                else self.pool_probabilities()[unlabeled]
            )
        if "mc_probs" in needed:
            # One dropout mask per pass for every candidate (consistent MC dropout),
            # drawn afresh each round from the trial's seed.
            mc_probs = self.classifier.predict_mc(
                pool[unlabeled], config.mc_samples, seed=(config.seed, _STREAM_MC, self.round)
            )
        if "embeddings" in needed:
            embeddings = (
                self.classifier.embed(pool[unlabeled])
                if subset
                else self.pool_embeddings()[unlabeled]
            )
        if "labeled_embeddings" in needed:
            labeled = self.labeled_indices()
            labeled_embeddings = (
                self.classifier.embed(pool[labeled]) if subset else self.pool_embeddings()[labeled]
            )
        selection = strategies.select_batch(
            probs,
            n,
            strategy=strategy,
            fraction=config.fraction,
            rng=rng,
            candidates=None if needed else np.arange(len(unlabeled)),
            mc_probs=mc_probs,
            embeddings=embeddings,
            labeled_embeddings=labeled_embeddings,
            base_score=config.base_score,
            top_m=config.hybrid_top_m,
            density_beta=config.density_beta,
            batchbald_configurations=config.batchbald_configurations,
        )
        return dataclasses.replace(selection, indices=unlabeled[selection.indices])

    def _query_typical(
        self, unlabeled: np.ndarray, n: int, rng: np.random.Generator
    ) -> strategies.Selection:
        """:meth:`query` for ``typiclust``: pixel features below :meth:`handover_labels`
        (a model trained on a few labels embeds by those few), embeddings from there on."""
        given = self.count() - self.count("pseudo")
        features = (
            self.pool_features() if given < self.handover_labels() else self.pool_embeddings()
        )
        selection = strategies.select_batch(
            None,
            n,
            strategy="typiclust",
            fraction=self.config.fraction,
            rng=rng,
            embeddings=features[unlabeled],
            labeled_embeddings=features[self.labeled_indices()],
        )
        return dataclasses.replace(selection, indices=unlabeled[selection.indices])

    def redundant_count(self, queried: np.ndarray) -> int:
        """How many of a batch's images are near-copies of a labeled or earlier-queried one.

        ``queried`` (b,) pool indices in pick order. Image ``j`` counts when it has the
        same source image as a labeled image or as a pick before it
        (``dataset.pool_source``: the copies of a redundant pool), or when the cosine
        similarity of its embedding (the current model's penultimate layer) to one of
        theirs is at least ``config.redundancy_similarity``. A pair of copies in one
        batch counts once: the second pick is the redundant one. Result in ``[0, b]``.

        The default threshold 0.99 was chosen on MNIST under a CNN trained on 100 labels:
        99.7 % of copies with noise 0.1 reach it, and 1 distinct pair in about 8,000.
        Cost: one embedding pass over the labeled set (unless the pool's are cached).
        """
        queried = np.asarray(queried, dtype=np.int64)
        labeled = self.labeled_indices()
        source = self.dataset.pool_source
        redundant = np.zeros(len(queried), dtype=bool)
        seen = set((labeled if source is None else source[labeled]).tolist())
        for j, origin in enumerate((queried if source is None else source[queried]).tolist()):
            redundant[j] = origin in seen
            seen.add(origin)
        threshold = self.config.redundancy_similarity
        if threshold is not None and len(queried):
            rows = np.concatenate([labeled, queried])
            if self._embeddings is not None:
                features = self._embeddings[rows]
            else:
                features = self.classifier.embed(self.dataset.x_pool[rows])
            features = np.asarray(features, dtype=np.float64)
            norms = np.linalg.norm(features, axis=1, keepdims=True)
            unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
            picks, known = unit[len(labeled) :], unit[: len(labeled)]
            if len(known):
                redundant |= (picks @ known.T).max(axis=1) >= threshold
            among = np.tril(picks @ picks.T, k=-1)  # similarity to earlier picks only
            redundant |= (among >= threshold).any(axis=1)
        return int(np.count_nonzero(redundant))

    def accuracy_on(self, indices: np.ndarray, labels: np.ndarray) -> float | None:
        """Current model's accuracy on labeled pool items (the queried-set evaluation)."""
        keep = labels >= 0
        if not keep.any():
            return None
        rows = indices[keep]
        # Reuse this round's pool predictions when they exist (same model).
        if self._probs is not None:
            probs = self._probs[rows]
        else:
            probs = self.classifier.predict_proba(self.dataset.x_pool[rows])
        return float(np.mean(probs.argmax(axis=1) == labels[keep]))
