"""PyTorch datasets over ``norwoodkit pack`` shards: a streaming ``ShardDataset`` for training and
a random-access ``ShardIndex``. Needs the ``torch`` extra (``pip install 'norwoodkit[torch]'``).

``ShardDataset`` is an ``IterableDataset``. How one epoch is produced (``partition``):

1. **The epoch's sample order** does not depend on the readers: the shards' row groups (about
   20 rows; a subject never straddles two), permuted with ``(seed, epoch)`` when ``shuffle``,
   else in file order (manifest shard order, then row group), each row group's rows in order.
2. **Readers.** Every DataLoader worker of every rank is one reader: ``readers = world_size x
   num_workers`` and reader ``rank x num_workers + worker_id``. Rank and world size come from
   ``torch.distributed`` when it is initialised (else 0 and 1), the worker from
   ``get_worker_info()``; constructor arguments override all four. Each rank takes a contiguous
   run of the order, cut by sample count, and its workers contiguous runs of the rank's, so a
   reader reads whole row groups except the one at each end of its run.
3. **Equal counts.** Every rank yields the same number of samples per epoch, or distributed
   training hangs at the last step (a rank's workers may differ by one; DataLoader does not
   mind). ``uneven="pad"`` (default) gives a short rank one repeat of its first sample (it
   carries ``meta["padded"] = True``); ``uneven="drop"`` leaves out a long rank's last sample.
   Either way at most ``readers - 1`` samples per epoch are repeated or left out. ``len(ds)``
   is the samples this rank yields in the epoch (or in its rest after ``load_state_dict``),
   padding and replacements of skipped images included; it does not depend on ``num_workers``
   for a whole epoch. It needs the rank: call it after ``init_process_group`` or pass
   ``rank``/``world_size``. ``len(DataLoader)`` divides it by the batch size, so with workers
   it can be below the batches handed out (each worker's last batch may be short).
4. **Shuffle buffer.** Each reader passes its run through a buffer of ``shuffle_buffer``
   samples (a random one leaves as each new one enters), seeded with ``(seed, epoch, reader)``.
   The buffer holds encoded image bytes, so its memory is about ``shuffle_buffer`` x the stored
   image size (resized shards make it small); ``shuffle=False`` or ``shuffle_buffer <= 1``
   yields in reading order.

Determinism and resume (``state``, format in ``docs/formats.md``): the whole order above is a
pure function of (seed, epoch, readers, options), computed from the footers without reading an
image. Each reader counts the positions of its run it has passed (``position``) and the
samples it has yielded (``yielded``; they differ only when a bad image was skipped).
``state_dict()`` returns them per reader with the epoch, the seed and the pack's identity;
``load_state_dict()`` refuses a state of another pack, split, seed or options, or of another
format, naming what differs. Resumed on the same ranks and workers, each reader rebuilds its
order, skips the passed positions without reading or decoding them, and yields exactly the
samples the interrupted run had not yet yielded, in the same order. Resumed on another number
of ranks or workers (elastic), the samples every old reader passed are rebuilt from its plan,
and the rest of the epoch, in the epoch's order, is dealt over the new readers as above: no
sample repeated or lost, at most ``readers - 1`` repeats in the rest. This needs every old
reader's entry: ``state_after_batches`` gives them all; per-rank states must be merged (the
union of their ``position`` and ``yielded``, e.g. with ``all_gather_object``).

- ``num_workers=0``: the dataset object itself counts; ``ds.state_dict()`` in the training loop
  is exact after every sample.
- DataLoader workers iterate *copies* of the dataset, so the counts live in the workers, one
  entry per worker. torchdata's ``StatefulDataLoader`` handles this on the same layout: it
  calls ``state_dict()`` on each worker's copy after every batch and ``load_state_dict()`` on
  each worker's copy when resumed. With a plain ``DataLoader``, use
  ``ds.state_after_batches(k, batch_size, num_workers)`` for the state after ``k`` batches on
  every rank (DataLoader asks its workers in turn, leaving out one that has finished); it
  resumes on any layout. Call ``set_epoch`` before each epoch; with
  ``persistent_workers=True`` the workers keep the epoch they started with.

Decoding (``decode="cpu"``, ``decode``): one copy takes the image out of the Arrow data buffer
(a ``memoryview`` slice; the column is never turned into Python objects) into the bytes Pillow
reads; JPEGs are decoded at a reduced DCT scale (``Image.draft``) when ``size`` allows it, the
EXIF orientation is applied, then the image is scaled to *cover* ``size = (H, W)`` (for a square
size: shorter side to H) and centre-cropped, in one resampling (bilinear, antialiased). The
sample is ``(uint8 tensor C x H x W, label, meta)``, or ``transform(PIL image)`` in place of the
tensor. Subject-layout shards give ``5 x C x H x W`` (views in ``VIEWS`` order; a missing view
is zeros and ``meta["mask"]`` is False for it). ``decode="cuda"`` (``gpu``): workers yield the
encoded bytes as uint8 tensors; ``ShardDataset.collate_bytes`` batches them in the workers and
``ds.collate_cuda`` decodes the batch with nvJPEG (``torchvision.io.decode_jpeg``) and resizes
on the GPU in the main process.

Bad input (``shards``, ``badimage``): a folder without ``manifest.json`` (an unfinished pack),
a shard in the manifest but not on disk, a link, a special file or outside the folder, an
unknown split, a newer manifest format, a footer that disagrees with the manifest, a shard of
another schema or one that cannot be read stop with an ``InputError`` pointing to ``norwoodkit
verify``; a shard file on disk that the manifest does not list is never read and is logged as
a warning (the manifest is the source of truth; ``norwoodkit verify`` reports it as an error).
A changed byte never reaches training silently: in original-bytes shards each image's bytes
are checked against its stored ``sha256`` before decoding (about 4 % of the decode time,
``docs/benchmarks.md``); ``--resize`` shards, whose ``sha256`` is the original's, are hashed
whole against the manifest once per process when the split is opened. An image that changed
or cannot be decoded raises (``on_bad_image="raise"``, naming shard, row group, row and
subject) or is skipped, logged and counted in ``ds.skipped`` (``"skip"``); a reader that
skipped images then takes replacements from the start of its list so its count still matches
the others'. A resized shard that changed always raises (the whole file is suspect).

From a URL (``s3://``, ``gs://``, any fsspec URL; ``remote``, ``cache``): the manifest and
footers are read from the store when the dataset is made; each reader downloads the shards its
plan needs, whole, into a local cache folder shared by the machine's workers (file locks: one
download per shard), checked against the manifest's sha256 before any is read, and prefetches
its next two in a background thread; ``cache_limit`` bounds the folder, evicting the least
recently used shards no reader holds. A local path is read in place as before.

Importing this package does not import torch: each name below loads its module on first use,
and ``norwoodkit.loader.partition`` (the epoch plan) never needs torch at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from norwoodkit import lazy

if TYPE_CHECKING:
    from norwoodkit.loader.datasets import ShardDataset, ShardIndex
    from norwoodkit.loader.decode import decode_image, orient, resize_cover
    from norwoodkit.loader.extra import TorchMissingError
    from norwoodkit.loader.gpu import EncodedBatch
    from norwoodkit.loader.options import DEFAULT_SIZE, BadImage, Decode, Sample, Uneven
    from norwoodkit.loader.shards import VIEW_NAMES
    from norwoodkit.loader.state import STATE_FORMAT

__all__ = [
    "DEFAULT_SIZE",
    "STATE_FORMAT",
    "VIEW_NAMES",
    "BadImage",
    "Decode",
    "EncodedBatch",
    "Sample",
    "ShardDataset",
    "ShardIndex",
    "TorchMissingError",
    "Uneven",
    "decode_image",
    "orient",
    "resize_cover",
]

# public name -> the module that defines it (imported on first use: torch loads only then)
_HOMES = {
    "DEFAULT_SIZE": "options",
    "STATE_FORMAT": "state",
    "VIEW_NAMES": "shards",
    "BadImage": "options",
    "Decode": "options",
    "EncodedBatch": "gpu",
    "Sample": "options",
    "ShardDataset": "datasets",
    "ShardIndex": "datasets",
    "TorchMissingError": "extra",
    "Uneven": "options",
    "decode_image": "decode",
    "orient": "decode",
    "resize_cover": "decode",
}


if not TYPE_CHECKING:  # mypy sees the imports above; an unknown name stays an error for it
    __getattr__, __dir__ = lazy.exports(__name__, _HOMES, __all__)
