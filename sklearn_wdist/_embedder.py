"""WassersteinSequenceEmbedder: the scikit-learn estimator around the skorch net."""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping

from ._pairwise import pairwise_wasserstein, pairwise_wasserstein_exact
from ._sequences import check_sequence_labels, check_sequences
from ._training import (
    RetrievalValidation,
    SequenceDataset,
    StopOnNonFiniteLoss,
    embed_sequences,
    pad_batch,
    torch_threads,
)
from ._whitening import apply_whitening, fit_whitening
from .metrics import mean_average_precision_at_r
from .nn import (
    ClassBalancedBatchSampler,
    ConvEncoder,
    QuantileEmbedding,
    WassersteinTripletLoss,
    quantile_levels,
)

# Embeddings are independent per sequence, so inference batches are sorted by
# length (little padding) and only bounded for memory.
_INFERENCE_BATCH_SIZE = 256
_VALIDATION_KEY = "valid_map_at_r"


def _split_validation(labels: np.ndarray, fraction: float, rng: np.random.Generator):
    """Stratified split keeping at least two sequences of every class on each side.

    Classes too small to give two to each side stay entirely in training.
    """
    train, valid = [], []
    for code in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == code))
        n_valid = round(fraction * len(members))
        n_valid = min(max(n_valid, 2), len(members) - 2)
        if n_valid < 2:
            train.extend(members)
            continue
        valid.extend(members[:n_valid])
        train.extend(members[n_valid:])
    if len(np.unique(labels[valid])) < 2:
        # MAP@R over a single class is always 1: no signal to stop on.
        return np.arange(len(labels)), np.empty(0, dtype=int)
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(valid, dtype=int))


def _split_validation_classes(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
):
    """Hold out whole classes: validation measures transfer to unseen classes.

    At least two classes go to each side (a triplet needs two classes, and
    MAP@R over a single class is trivially perfect); with fewer than four
    classes nothing is held out.
    """
    classes = np.unique(labels)
    n_valid = min(max(round(fraction * len(classes)), 2), len(classes) - 2)
    if n_valid < 2:
        return np.arange(len(labels)), np.empty(0, dtype=int)
    held_out = rng.choice(classes, n_valid, replace=False)
    in_valid = np.isin(labels, held_out)
    return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)


class WassersteinSequenceEmbedder(TransformerMixin, BaseEstimator):
    """Learned distributional embedding of sequences, trained with a Wasserstein loss.

    A PyTorch encoder maps every time step of a sequence to ``K`` learned
    features; the embedding of the sequence is the empirical quantile function of
    each feature over its time steps, at ``M = n_quantiles`` levels. Sequences are
    compared with the distance ``d_p = (sum_k W_p^p(k)) ** (1/p)`` between these
    distributions, and the encoder is trained end to end with a triplet loss on
    ``d_p`` (class-balanced batches, in-batch mining). Training runs in a skorch
    :class:`~skorch.NeuralNet`.

    :meth:`transform` returns the flattened quantiles scaled by ``M ** (-1/p)``:
    the Euclidean (``p=2``) or Manhattan (``p=1``) distance between its rows *is*
    the learned Wasserstein distance ``d_p``, so any scikit-learn estimator with
    ``metric=self.metric_`` works on it directly.

    Parameters
    ----------
    encoder : torch.nn.Module, default=None
        Per-step encoder mapping ``(batch, C, T)`` to ``(batch, K, T')``. It is
        deep-copied at every ``fit`` and training starts from its current
        weights (so a pretrained encoder is fine-tuned, and the user's module is
        never modified). ``None`` builds a :class:`~sklearn_wdist.nn.ConvEncoder`
        from the encoder parameters below.
    n_features : int, default=8
        Number of learned per-step features of the default encoder (the
        encoder's output has ``K = n_features + n_channels`` features when
        ``include_input`` is true).
    hidden_channels : int, default=64
        Width of the default encoder's hidden convolutions.
    n_layers : int, default=2
        Number of convolution blocks of the default encoder.
    kernel_size : int, default=5
        Temporal width of the default encoder's convolutions.
    dropout : float, default=0.0
        Dropout probability in the default encoder.
    include_input : bool, default=True
        Append the (whitened, standardised) input channels to the learned
        per-step features of the default encoder: the distribution of the raw
        signal is then part of the embedding, a residual path that keeps what the
        untrained raw-quantile distance already knows. It matters most for
        classes never seen in training (see ``BENCHMARKS.md``).
    normalize_output : bool, default=True
        Standardise every learned feature of the default encoder with batch
        statistics, so that the triplet margin cannot be met by scaling the
        output up, and learned and raw features weigh alike.
    input_whitening : {"auto", "within_class", "total"} or None, default="auto"
        Linear whitening of the input channels, fitted in ``fit`` (on the
        training part only when ``early_stopping`` holds data out) and applied
        to every sequence before the encoder. ``"within_class"`` multiplies the
        centred channels by ``Sigma_w ** (-1/2)``, where ``Sigma_w`` is the
        (Ledoit-Wolf shrunk) covariance of the time steps around the mean of
        their class, as in within-class covariance normalisation for speaker
        verification: the channels are decorrelated along the directions in
        which sequences of one class vary. ``"total"`` uses the covariance
        around the overall mean. ``None`` passes the channels unchanged.
        ``"auto"`` means ``"within_class"`` for the built-in encoder and
        ``None`` for a user ``encoder`` (which may expect its own input scale).
        The built-in encoder standardises each (whitened) channel again, so
        what it keeps is the decorrelation, not the per-direction weights; with
        one channel whitening only rescales it, which that standardisation
        undoes.
    n_quantiles : int, default=16
        Number of quantile levels ``M``, at ``tau_m = (m - 1/2) / M``.
    quantile_method : {"linear", "inverted_cdf"}, default="linear"
        ``"linear"`` interpolates between order statistics
        (``numpy.quantile``'s default); ``"inverted_cdf"`` takes the empirical
        quantile function itself, whose distance converges to the exact
        Wasserstein distance of :meth:`pairwise_distances` (``exact=True``) as
        ``n_quantiles`` grows.
    pooling : {"quantile", "mean"}, default="quantile"
        ``"mean"`` pools each feature to its mean over time instead of its
        quantile function: the vector-embedding baseline trained the same way
        (``transform`` then has ``K`` columns and ``n_quantiles`` is unused).
    p : {1, 2}, default=2
        Order of the Wasserstein distance.
    margin : float or "soft", default=1.0
        Triplet margin, or ``"soft"`` for the soft-margin loss
        ``log(1 + exp(d(a, p) - d(a, n)))``.
    mining : {"batch_hard", "batch_all", "semi_hard"}, default="batch_hard"
        Triplet mining inside each batch.
    classes_per_batch : int, default=8
        Number of classes ``P`` per batch (capped at the number of classes).
    samples_per_class : int, default=4
        Sequences ``S`` per class in a batch.
    max_epochs : int, default=30
        Number of epochs; an epoch draws about ``n_sequences`` sequences.
    lr : float, default=1e-3
        Learning rate.
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    early_stopping : bool, default=False
        Hold out part of the training data, score it with MAP@R after every
        epoch, stop after ``n_iter_no_change`` epochs without improvement and
        keep the best weights.
    validation_fraction : float, default=0.1
        Fraction held out when ``early_stopping`` is true: of each class's
        sequences, or of the classes (see ``validation_split``).
    validation_split : {"stratified", "classes"}, default="stratified"
        ``"stratified"`` holds out sequences of every class; ``"classes"`` holds
        out whole classes (at least two), so early stopping tracks how well the
        distance transfers to classes never seen in training.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    device : str, default="cpu"
        Torch device to train and embed on, e.g. ``"cuda"``.
    n_threads : int or None, default=1
        Intra-op threads PyTorch may use during ``fit`` and ``transform`` (the
        global setting is restored afterwards). Triplet batches of short
        sequences are small, and more threads mostly add synchronisation
        overhead, badly so on a loaded machine; see ``BENCHMARKS.md``. ``None``
        keeps PyTorch's own setting.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (learning-rate schedules, checkpoints, ...).
    verbose : int, default=0
        ``1`` prints skorch's per-epoch table.
    random_state : int, RandomState instance or None, default=None
        Seeds the default encoder's weight initialisation, dropout, batch
        sampling and the validation split. An int gives identical embeddings on
        the same machine (for a user ``encoder``: given the same initial
        weights).

    Attributes
    ----------
    n_features_in_ : int
        Number of channels seen in ``fit``.
    classes_ : ndarray
        Class labels seen in ``fit``.
    quantile_levels_ : ndarray of shape (n_quantiles,)
        The levels ``tau_m`` (the single level 0.5 when ``pooling="mean"``).
    whitening_mean_ : ndarray of shape (n_features_in_,) or None
        Channel means subtracted before whitening (``None`` without whitening).
    whitening_matrix_ : ndarray of shape (n_features_in_, n_features_in_) or None
        The whitening matrix applied to every sequence before the encoder.
    n_embedding_features_ : int
        Number of per-step features ``K`` produced by the encoder.
    metric_ : {"euclidean", "manhattan"}
        The metric on :meth:`transform` output that equals the learned distance.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the
        :class:`~sklearn_wdist.nn.QuantileEmbedding`.
    module_ : torch.nn.Module
        The trained :class:`~sklearn_wdist.nn.QuantileEmbedding`.
    history_ : skorch.History
        Per-epoch and per-batch training record.

    See Also
    --------
    WassersteinDistanceTransformer : Pipeline step turning embeddings into a
        distance matrix for ``metric="precomputed"`` estimators.
    pairwise_wasserstein : Distance matrix between two sets of embeddings.

    References
    ----------
    .. [1] A. Abdelwahab and N. Landwehr, "Deep Distributional Sequence
       Embeddings Based on a Wasserstein Loss", Neural Processing Letters, 2022.
    .. [2] A. Hermans, L. Beyer and B. Leibe, "In Defense of the Triplet Loss for
       Person Re-Identification", 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_wdist import WassersteinSequenceEmbedder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2, 30)).astype("float32")
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1] *= 3.0
    >>> embedder = WassersteinSequenceEmbedder(
    ...     n_features=4, n_quantiles=8, max_epochs=3, random_state=0)
    >>> embeddings = embedder.fit(X, y).transform(X)
    >>> embeddings.shape
    (40, 48)
    >>> embedder.metric_
    'euclidean'
    """

    _parameter_constraints: dict = {
        "encoder": [torch.nn.Module, None],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_channels": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 0, None, closed="left")],
        "kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "include_input": ["boolean"],
        "normalize_output": ["boolean"],
        "input_whitening": [StrOptions({"auto", "within_class", "total"}), None],
        "n_quantiles": [Interval(numbers.Integral, 1, None, closed="left")],
        "quantile_method": [StrOptions({"linear", "inverted_cdf"})],
        "pooling": [StrOptions({"quantile", "mean"})],
        "p": [Options(numbers.Integral, {1, 2})],
        "margin": [
            Interval(numbers.Real, 0, None, closed="left"),
            StrOptions({"soft"}),
        ],
        "mining": [StrOptions({"batch_hard", "batch_all", "semi_hard"})],
        "classes_per_batch": [Interval(numbers.Integral, 2, None, closed="left")],
        "samples_per_class": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [type],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"stratified", "classes"})],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        encoder=None,
        n_features=8,
        hidden_channels=64,
        n_layers=2,
        kernel_size=5,
        dropout=0.0,
        include_input=True,
        normalize_output=True,
        input_whitening="auto",
        n_quantiles=16,
        quantile_method="linear",
        pooling="quantile",
        p=2,
        margin=1.0,
        mining="batch_hard",
        classes_per_batch=8,
        samples_per_class=4,
        max_epochs=30,
        lr=1e-3,
        optimizer=torch.optim.Adam,
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        validation_split="stratified",
        n_iter_no_change=10,
        device="cpu",
        n_threads=1,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.encoder = encoder
        self.n_features = n_features
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.include_input = include_input
        self.normalize_output = normalize_output
        self.input_whitening = input_whitening
        self.n_quantiles = n_quantiles
        self.quantile_method = quantile_method
        self.pooling = pooling
        self.p = p
        self.margin = margin
        self.mining = mining
        self.classes_per_batch = classes_per_batch
        self.samples_per_class = samples_per_class
        self.max_epochs = max_epochs
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.n_threads = n_threads
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fitting
    def _build_encoder(self, n_channels: int) -> torch.nn.Module:
        if self.encoder is not None:
            return copy.deepcopy(self.encoder)
        return ConvEncoder(
            n_channels,
            n_features=self.n_features,
            hidden_channels=self.hidden_channels,
            n_layers=self.n_layers,
            kernel_size=self.kernel_size,
            dropout=self.dropout,
            include_input=self.include_input,
            normalize_output=self.normalize_output,
        )

    @staticmethod
    def _probe(module: QuantileEmbedding, sequences: list[np.ndarray], name: str):
        """Run the shortest sequence through the module to catch bad encoders early."""
        shortest = min(sequences, key=lambda s: s.shape[-1])
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        x = torch.from_numpy(shortest[None]).to(device)
        lengths = torch.tensor([shortest.shape[-1]], device=device)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                features, _ = module.step_features(x, lengths)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from error
        except RuntimeError as error:
            raise ValueError(
                f"{name} contains a sequence of length {shortest.shape[-1]} that "
                f"the encoder cannot process (too short?): {error}"
            ) from error
        finally:
            module.train(was_training)
        return features.shape[1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoder with the Wasserstein triplet loss.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_channels, n_timepoints), \
                (n_sequences, n_timepoints), or list of (n_channels, n_timepoints_i)
            Training sequences.
        y : array-like of shape (n_sequences,)
            Class labels (any hashable values); every class needs at least two
            sequences, and there must be at least two classes.

        Returns
        -------
        self : WassersteinSequenceEmbedder
            The fitted estimator.
        """
        try:
            device = torch.device(self.device)
        except RuntimeError as error:
            raise ValueError(
                f"device={self.device!r} is not a torch device (e.g. 'cpu', 'cuda', "
                f"'cuda:1'): {error}"
            ) from error
        if not issubclass(self.optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer subclass such as "
                f"torch.optim.Adam, got {self.optimizer!r}."
            )
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was requested but CUDA is not available; "
                "use device='cpu'."
            )
        sequences = check_sequences(X, name="X")
        y = check_sequence_labels(y, len(sequences))
        classes, codes = np.unique(y, return_inverse=True)
        n_channels = sequences[0].shape[0]
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))

        train_index = np.arange(len(sequences))
        valid_index = np.empty(0, dtype=int)
        if self.early_stopping:
            split = (
                _split_validation_classes
                if self.validation_split == "classes"
                else _split_validation
            )
            train_index, valid_index = split(
                codes, self.validation_fraction, np.random.default_rng(seed)
            )
            if len(valid_index) == 0:
                needs = (
                    "at least 4 classes (2 to train on, 2 to validate)"
                    if self.validation_split == "classes"
                    else "at least 2 classes with 4 or more sequences each (2 to "
                    "train on, 2 to validate)"
                )
                raise ValueError(
                    f"early_stopping=True needs {needs}; y has not. Set "
                    "early_stopping=False."
                )

        whitening_mean = whitening_matrix = None
        whitening = self._whitening_kind()
        if whitening is not None:
            # Fitted on the training part only: held-out sequences must not
            # shape what early stopping is scored with.
            whitening_mean, whitening_matrix = fit_whitening(
                [sequences[i] for i in train_index],
                codes[train_index],
                whitening,
                np.random.default_rng(seed),
            )
            sequences = apply_whitening(sequences, whitening_mean, whitening_matrix)

        # fork_rng keeps the caller's global torch RNG untouched while making
        # initialisation and dropout reproducible from random_state.
        cuda_devices = (
            list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        )
        with (
            torch.random.fork_rng(devices=cuda_devices),
            torch_threads(self.n_threads),
        ):
            torch.manual_seed(seed)
            module = QuantileEmbedding(
                self._build_encoder(n_channels),
                self.n_quantiles,
                self.quantile_method,
                self.pooling,
            )
            n_embedding_features = self._probe(module, sequences, "X")
            scale = self._n_levels() ** (-1.0 / self.p)
            validation = None
            if self.early_stopping:
                validation = RetrievalValidation(
                    [sequences[i] for i in valid_index],
                    codes[valid_index],
                    self.p,
                    scale,
                    self.n_threads,
                    _VALIDATION_KEY,
                )
            net = self._build_net(module, codes[train_index], seed, validation)
            train = SequenceDataset(
                [sequences[i] for i in train_index], codes[train_index]
            )
            net.fit(train, None)

        self.net_ = net
        self.module_ = net.module_
        self.history_ = net.history
        self.classes_ = classes
        self.n_features_in_ = n_channels
        self.whitening_mean_ = whitening_mean
        self.whitening_matrix_ = whitening_matrix
        self.n_embedding_features_ = n_embedding_features
        self.quantile_levels_ = quantile_levels(self._n_levels()).numpy()
        self.metric_ = "euclidean" if self.p == 2 else "manhattan"
        # Fixed at fit: set_params after fit must not rescale transform output.
        self._embedding_scale = scale
        return self

    def _whitening_kind(self) -> str | None:
        if self.input_whitening == "auto":
            return "within_class" if self.encoder is None else None
        return self.input_whitening

    def _n_levels(self) -> int:
        return 1 if self.pooling == "mean" else self.n_quantiles

    def _build_criterion(self) -> torch.nn.Module:
        """Build the training loss; benchmarks override it to train other distances."""
        return WassersteinTripletLoss(p=self.p, margin=self.margin, mining=self.mining)

    def _build_net(self, module, train_codes, seed, validation) -> NeuralNet:
        sampler = ClassBalancedBatchSampler(
            train_codes,
            classes_per_batch=self.classes_per_batch,
            samples_per_class=self.samples_per_class,
            seed=seed,
        )
        callbacks = [("stop_on_nonfinite", StopOnNonFiniteLoss())]
        if validation is not None:
            # Before user callbacks, so that they see this epoch's score.
            callbacks += [
                ("valid_scoring", validation),
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=_VALIDATION_KEY,
                        lower_is_better=False,
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        load_best=True,
                    ),
                ),
            ]
        callbacks += list(self.callbacks or [])
        net = NeuralNet(
            module=module,
            criterion=self._build_criterion(),
            optimizer=self.optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=_INFERENCE_BATCH_SIZE,
            iterator_train__batch_sampler=sampler,
            iterator_train__batch_size=1,
            iterator_train__collate_fn=pad_batch,
            iterator_valid__collate_fn=pad_batch,
            train_split=None,
            callbacks=callbacks,
            verbose=self.verbose,
            device=self.device,
            # The module holds this package's classes, so the full unpickler is
            # needed when the net is loaded again.
            torch_load_kwargs={"weights_only": False},
        )
        return net

    # ---------------------------------------------------------------- embedding
    def _embed(self, net: NeuralNet, sequences: list[np.ndarray]) -> np.ndarray:
        return embed_sequences(net, sequences, self._embedding_scale, self.n_threads)

    def _fitted_p(self) -> int:
        # The order the model was trained with, whatever set_params did since.
        return 2 if self.metric_ == "euclidean" else 1

    def _check_input(self, X, name="X") -> list[np.ndarray]:
        check_is_fitted(self)
        sequences = check_sequences(X, name=name, n_channels=self.n_features_in_)
        if self.whitening_matrix_ is not None:
            sequences = apply_whitening(
                sequences, self.whitening_mean_, self.whitening_matrix_
            )
        if self.encoder is not None:
            self._probe(self.module_, sequences, name)
        return sequences

    def transform(self, X):
        """Embed sequences: flattened quantile functions scaled by ``M ** (-1/p)``.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_channels, n_timepoints), \
                (n_sequences, n_timepoints), or list of (n_channels, n_timepoints_i)
            Sequences with the channel count seen in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_sequences, K * n_quantiles), float32
            Row ``i`` holds ``Q_i[k, m] * M ** (-1/p)`` in row-major ``(k, m)``
            order; the ``metric_`` distance between rows is the learned ``d_p``.
        """
        return self._embed(self.net_, self._check_input(X))

    def step_features(self, X) -> list[np.ndarray]:
        """Per-step features ``h_t`` of each sequence, as the encoder outputs them.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as for :meth:`transform`.

        Returns
        -------
        features : list of ndarray of shape (K, n_timepoints_i')
            The valid steps of the encoder output, whose per-feature distributions
            the embedding summarises. With the built-in encoder and
            ``include_input=True`` the first ``n_features`` rows are the learned
            features and the last ``n_features_in_`` rows the whitened,
            standardised input channels.
        """
        sequences = self._check_input(X)
        module = self.module_
        device = self.net_.device
        module.eval()
        # Length-sorted batches keep padding small; results go back in input order.
        order = np.argsort([s.shape[-1] for s in sequences], kind="stable")
        features: list[np.ndarray] = [None] * len(sequences)  # type: ignore[list-item]
        with torch.no_grad(), torch_threads(self.n_threads):
            for start in range(0, len(sequences), _INFERENCE_BATCH_SIZE):
                chunk = order[start : start + _INFERENCE_BATCH_SIZE]
                batch, _ = pad_batch([(sequences[i], 0) for i in chunk])
                h, lengths = module.step_features(
                    batch["x"].to(device), batch["lengths"].to(device)
                )
                h = h.cpu().numpy()
                for row, (index, n) in enumerate(
                    zip(chunk, lengths.tolist(), strict=True)
                ):
                    features[index] = h[row, :, :n]
        return features

    def pairwise_distances(self, X, Y=None, *, exact=False, n_jobs=None):
        """Learned Wasserstein distances ``d_p`` between raw sequences.

        Parameters
        ----------
        X : array-like or list of arrays
            Query sequences.
        Y : array-like or list of arrays, optional
            Reference sequences; ``None`` means ``X`` (symmetric result with an
            exact zero diagonal).
        exact : bool, default=False
            ``False``: distance between the quantile embeddings (what the model
            was trained on). ``True``: exact ``W_p`` between the empirical
            per-step feature distributions, per feature, with POT's
            ``ot.wasserstein_1d`` (for ``pooling="mean"`` this is not the
            distance the model was trained on). With
            ``quantile_method="inverted_cdf"`` the
            quantile distance converges to it as ``n_quantiles`` grows; the
            linear form differs by ``O(1/n_timepoints)``.
        n_jobs : int, optional
            Parallel jobs (joblib).

        Returns
        -------
        distances : ndarray of shape (n_X, n_Y)
            ``d_p`` (a ``W_p``-type distance, not ``W_p^p``).
        """
        if exact:
            features_x = self.step_features(X)
            features_y = None if Y is None else self.step_features(Y)
            return pairwise_wasserstein_exact(
                features_x, features_y, p=self._fitted_p(), n_jobs=n_jobs
            )
        embeddings_x = self.transform(X)
        embeddings_y = None if Y is None else self.transform(Y)
        return pairwise_wasserstein(
            embeddings_x, embeddings_y, p=self._fitted_p(), n_jobs=n_jobs
        )

    def score(self, X, y):
        """Leave-one-out retrieval score: MAP@R of the learned distance.

        Every sequence queries all others; see
        :func:`sklearn_wdist.metrics.mean_average_precision_at_r`. Higher is
        better, so ``GridSearchCV`` can tune the embedder alone.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like of shape (n_sequences,)
            Their class labels; classes with a single sequence act only as
            distractors.

        Returns
        -------
        score : float
            MAP@R in [0, 1].
        """
        sequences = self._check_input(X)
        labels = None if y is None else np.asarray(y, dtype=object)
        if labels is None or labels.ndim != 1 or len(labels) != len(sequences):
            raise ValueError(
                "y must be a 1-D array with one label per sequence of X to compute "
                f"the score; got {type(y).__name__} of shape "
                f"{getattr(labels, 'shape', None)} for {len(sequences)} sequences."
            )
        embeddings = self._embed(self.net_, sequences)
        distances = pairwise_wasserstein(embeddings, p=self._fitted_p())
        return mean_average_precision_at_r(distances, y)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``"f{k}_q{m}"`` for feature ``k``, level ``m``.

        Parameters
        ----------
        input_features : None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        if self.module_.pooling == "mean":
            names = [f"f{k}_mean" for k in range(self.n_embedding_features_)]
        else:
            names = [
                f"f{k}_q{m}"
                for k in range(self.n_embedding_features_)
                for m in range(len(self.quantile_levels_))
            ]
        return np.asarray(names, dtype=object)
