"""Reads the tensors of a TorchScript zip with numpy and a restricted unpickler (no torch, no code run).

A TorchScript file is a zip with one root folder holding `data.pkl` (the module tree) and
`data/<key>` files (raw little-endian tensor bytes). In `data.pkl` tensors are
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` calls whose storage is a
persistent id `('storage', <FloatStorage etc.>, key, location, numel)`, and script modules are
`__torch__.*` objects whose state (attributes, parameters, sub-modules) arrives through
`__setstate__`. The unpickler resolves only those names, to harmless stand-ins defined here; any
other global (`os.system`, `builtins.eval`, ...) is refused before anything is called.
"""
import collections
import io
import pickle
import zipfile

import numpy as np

from videocore import errors

# torch storage class name -> numpy dtype of its bytes.
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": None,  # no numpy dtype; refused with a clear message if ever met
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class ScriptModule:
    """Stand-in for a `__torch__.*` script module: keeps its class name and its state dict."""

    qualified_name = "__torch__"

    def __init__(self):
        self.state = {}

    def __setstate__(self, state):
        self.state = dict(state)

    def __repr__(self):
        return f"ScriptModule({self.qualified_name})"


def _script_module_class(qualified_name):
    """Returns a ScriptModule subclass named after `qualified_name`, for the pickle's NEWOBJ."""
    return type(qualified_name.rsplit(".", 1)[-1], (ScriptModule,), {"qualified_name": qualified_name})


class _StorageType:
    """Stand-in for `torch.FloatStorage` etc.: only carries the numpy dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    """numpy version of `torch._utils._rebuild_tensor_v2`: a strided view of a storage, copied."""
    size, stride = tuple(size), tuple(stride)
    if not size:
        return np.array(storage[storage_offset])
    extent = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if min(size) > 0 and extent > storage.size:
        raise pickle.UnpicklingError(f"tensor of size {size} runs past its storage ({storage.size} values)")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size, strides=[s * storage.itemsize for s in stride]
    )
    return np.array(view)


def _build_intlist(values):
    return list(values)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the tensor-rebuild globals and loads storages from the zip."""

    _ALLOWED = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch.jit._pickle", "build_intlist"): _build_intlist,
        ("collections", "OrderedDict"): collections.OrderedDict,
    }

    def __init__(self, data, read_storage):
        super().__init__(io.BytesIO(data))
        self._read_storage = read_storage
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "__torch__" or module.startswith("__torch__."):
            return _script_module_class(f"{module}.{name}")
        raise pickle.UnpicklingError(f"refusing to load global '{module}.{name}' (not a tensor-rebuild name)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or storage_type.dtype is None:
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        if key not in self._storages:
            raw = self._read_storage(str(key))
            values = np.frombuffer(raw, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))
            if values.size < numel:
                raise pickle.UnpicklingError(f"storage {key} holds {values.size} values, expected {numel}")
            self._storages[key] = values[:numel]
        return self._storages[key]


def load(path):
    """Unpickles a TorchScript zip's `data.pkl` safely.

    Returns the root `ScriptModule` (its `.state` holds numpy arrays for tensors and
    ScriptModules for sub-modules). Raises `errors.CheckpointError` naming `path` if the file is
    not a TorchScript zip or its pickle names anything but the tensor-rebuild globals.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise errors.CheckpointError(f"{path}: not a readable TorchScript zip ({error})") from error
    with archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise errors.CheckpointError(f"{path}: no '<root>/data.pkl' in the zip, not a TorchScript file")
        root = pickles[0].split("/")[0]

        def read_storage(key):
            return archive.read(f"{root}/data/{key}")

        try:
            return _RestrictedUnpickler(archive.read(pickles[0]), read_storage).load()
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as error:
            raise errors.CheckpointError(f"{path}: {error}") from error


def named_tensors(module, prefix=""):
    """Flattens a loaded module tree to `[(dotted_name, array), ...]` in the file's order.

    Sub-modules and tensors appear in the order their state dicts were pickled, which is the
    order the model's layers were created in.
    """
    tensors = []
    for key, value in module.state.items():
        name = f"{prefix}{key}"
        if isinstance(value, ScriptModule):
            tensors.extend(named_tensors(value, prefix=f"{name}."))
        elif isinstance(value, np.ndarray):
            tensors.append((name, value))
    return tensors
