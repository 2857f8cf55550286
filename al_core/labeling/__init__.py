"""Hand labeling: a person is the oracle of the active-learning loop.

A *labeling session* has a pool of images, class names, a model, a strategy, a
batch size and a held-out evaluation set. Its state lives in the store (see
:mod:`al_core.store`: ``sessions``, ``labels``, ``session_batches``,
``session_rounds``, ``session_skips``, ``label_claims``, ``label_reviews``) and its files in
``<folder of the database>/sessions/<id>/``, so a server restart loses nothing
that was acknowledged.

The round is the one of :mod:`al_core.loop`, driven one step at a time:

1. the session's worker queries a batch (the first one by *cold start*:
   random, or cluster-diverse: k-means on the pool's pixels and the images
   nearest the centroids, :func:`al_core.strategies.kmeans_sample`);
2. the person labels it; each answer is written the moment it is given
   (:func:`answer`, :func:`skip`, :func:`undo`);
3. when the batch is done (or, pipelined, when few of its images are left:
   :mod:`~al_core.labeling.pipeline`, so the next batch is ready before this one
   is finished) the page calls :func:`request_retrain`: a background
   *process* (``python -m al_core label-worker SESSION --db PATH``; TensorFlow is
   not fork-safe, so it is started fresh, never forked from the app) loads the
   labels, runs :meth:`~al_core.loop.ActiveLearner.train_and_evaluate` and
   :meth:`~al_core.loop.ActiveLearner.query` and writes the learning-curve point
   and the next batch (items, uncertainty scores, the model's top-3 classes);
   once the batch before a prepared one is finished, the prepared batch's images
   nobody holds yet are re-picked by a model trained on every label. One worker
   per session; it stays alive for a while after a job so that the
   next retrain does not pay for starting TensorFlow again, and it never blocks
   another session or the experiment runner.

Pools
-----
- A built-in data set (``digits``, ``mnist``, ``fashion_mnist``, ``cifar10``):
  the pool is its training split; its labels are hidden from the labeler and
  kept (``truth.npy``) for the audit; the learning curve is measured on its
  test split (``test_size`` images, a stratified subset).
- The user's images, from a zip upload or a folder on the server inside the
  allowed data root (``$AL_DATA_DIR``, default ``data/``). They are unlabeled;
  class names are typed in, or taken from the subfolders when there are at
  least two. Images are converted by the image-folder policy of
  :mod:`al_core.datasets` (:func:`~al_core.datasets.load_images`: EXIF
  orientation applied, grayscale (by content) kept as 1 channel only when every
  image is grayscale, else RGB, transparency flattened onto white) and resized to
  ``image_size`` (aspect ratio not kept): 32x32 by default here; ``None``, the Label
  page's default, is the policy's most frequent size, the size an experiment on
  the same folder trains on. The learning curve is
  measured on a held-out share of the user's own labels: every
  :data:`HELD_OUT_EVERY`-th human label, in the order given, is used for
  evaluation and never for training.

Uploads and folders are checked and read by :mod:`al_core.uploads` (bad zips
refused, unreadable files and duplicates skipped and listed); nothing is stored
until they pass.

Labels: a class index ``0..K-1``, or :data:`NOT_SURE` (``-1``: never asked
again, not used for training). Skipped items stay in the pool and may be
queried again. Two tabs of one annotator cannot store two labels for one item:
the second answer is refused unless it is an explicit relabel.

Labeling as a team (:mod:`~al_core.labeling.team`): every answer stores its
annotator; several people label one session at once, each handed images nobody
else holds (claims that lapse when a browser goes away), except an overlap share
shown to two; an image answered twice trains with the agreed label, a
disagreement waits on a review list. :mod:`~al_core.labeling.agreement` measures
Cohen's kappa per pair and per class, raw agreement, and each annotator against
the hidden labels of a built-in set.

Modules: :mod:`~al_core.labeling.sessions` (settings, creation, files),
:mod:`~al_core.labeling.answers` (the batch, answers, auto-label review, progress,
audit), :mod:`~al_core.labeling.team` (annotators, claims, overlap, training
labels, reviews), :mod:`~al_core.labeling.agreement` (kappa and agreement),
:mod:`~al_core.labeling.keys` (keyboard answers, in the order pressed),
:mod:`~al_core.labeling.pipeline` (the queue: the next batch is prepared while the
current one is labeled), :mod:`~al_core.labeling.worker` (the background worker process) and
:mod:`~al_core.labeling.exports` (images shown, CSV / JSON / zip exports). This
package re-exports their public names, so callers use ``al_core.labeling.X``.
"""

from al_core.labeling.advice import StoppingAdvice, stopping_advice
from al_core.labeling.agreement import Agreement, agreement, cohen_kappa, session_agreement
from al_core.labeling.answers import (
    AnswerResult,
    Audit,
    BatchItem,
    BatchView,
    answer,
    audit,
    counts,
    current_batch,
    find_item,
    learning_curve,
    proposals,
    review_proposals,
    set_use_pseudo,
    shortcut_keys,
    skip,
    undo,
    why_picked,
)
from al_core.labeling.exports import (
    DISPLAY_SIDE,
    EXPORT_COLUMNS,
    export_csv,
    export_json,
    export_rows,
    export_zip,
    item_image,
    item_names,
)
from al_core.labeling.keys import KeyResult, action_keys, apply_key, pending_keys
from al_core.labeling.pipeline import lead_answers, open_rounds, wants_next_batch
from al_core.labeling.sessions import (
    COLD_STARTS,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_SESSION_MODEL,
    HELD_OUT_EVERY,
    NOT_SURE,
    SOURCES,
    CreatedSession,
    SessionConfig,
    check_overlap,
    create_session,
    evaluation_note,
    list_sessions,
    session_config,
    session_dir,
    strategy_choices,
)
from al_core.labeling.team import (
    CLAIM_SECONDS,
    DEFAULT_ANNOTATOR,
    MAX_NAME_LENGTH,
    Assignment,
    ItemLabel,
    check_annotator,
    choose_item,
    claim_renewal_seconds,
    claim_seconds,
    held_by_others,
    is_overlap,
    item_labels,
    keep_claim,
    next_item,
    peek_item,
    release_claim,
    review_list,
    set_overlap,
    settle,
)
from al_core.labeling.worker import (
    WORKER_IDLE_SECONDS,
    JobState,
    Pool,
    SessionWorker,
    cold_start_indices,
    job_state,
    load_pool,
    process_jobs,
    request_audit,
    request_retrain,
    run_worker,
    stop_set,
    stop_workers,
)

__all__ = [
    "StoppingAdvice",
    "stopping_advice",
    "Agreement",
    "AnswerResult",
    "Assignment",
    "CLAIM_SECONDS",
    "claim_renewal_seconds",
    "DEFAULT_ANNOTATOR",
    "DEFAULT_OVERLAP",
    "ItemLabel",
    "MAX_NAME_LENGTH",
    "agreement",
    "check_annotator",
    "check_overlap",
    "choose_item",
    "claim_seconds",
    "cohen_kappa",
    "held_by_others",
    "is_overlap",
    "item_labels",
    "keep_claim",
    "lead_answers",
    "next_item",
    "open_rounds",
    "peek_item",
    "release_claim",
    "review_list",
    "session_agreement",
    "set_overlap",
    "settle",
    "Audit",
    "BatchItem",
    "KeyResult",
    "action_keys",
    "apply_key",
    "pending_keys",
    "BatchView",
    "COLD_STARTS",
    "CreatedSession",
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_SESSION_MODEL",
    "DISPLAY_SIDE",
    "EXPORT_COLUMNS",
    "HELD_OUT_EVERY",
    "JobState",
    "NOT_SURE",
    "Pool",
    "SOURCES",
    "SessionConfig",
    "SessionWorker",
    "WORKER_IDLE_SECONDS",
    "answer",
    "audit",
    "cold_start_indices",
    "counts",
    "create_session",
    "current_batch",
    "evaluation_note",
    "export_csv",
    "export_json",
    "export_rows",
    "export_zip",
    "find_item",
    "item_image",
    "item_names",
    "job_state",
    "learning_curve",
    "list_sessions",
    "load_pool",
    "process_jobs",
    "proposals",
    "request_audit",
    "request_retrain",
    "review_proposals",
    "run_worker",
    "session_config",
    "session_dir",
    "set_use_pseudo",
    "shortcut_keys",
    "skip",
    "stop_set",
    "stop_workers",
    "strategy_choices",
    "undo",
    "wants_next_batch",
    "why_picked",
]
