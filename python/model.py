# The PyTorch module of a webgpu-train model: built from the architecture JSON that
# model.safetensors carries in its metadata, with safetensors read and written by
# a few lines of its own (the `safetensors` package is not needed).
#
# Layouts are PyTorch's: images NCHW, conv weight [out, in, kh, kw], linear
# weight [out, in]. Module i of the nn.Sequential is layer i of the original
# model, so its tensors are named `<i>.weight`, `<i>.bias`, `<i>.running_mean`...
# The last layer gives logits: its softmax is the loss' (CrossEntropyLoss), and
# `probabilities()` applies it.
import json
import math
import os
import stat
import struct

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["build", "load", "save", "probabilities", "to_input", "read_safetensors", "write_safetensors", "read_mnist"]


# The largest files read, as webgpu-train bounds them: a model file at the 2 GiB a
# model from a file may take, an IDX file at 1 GiB (and 1 MiB of header and gzip).
MAX_FILE_BYTES = 2**31
MAX_IDX_BYTES = 2**30 + 2**20


def _open_regular(path, limit):
    """`path` opened for reading, and its size: refused at once when it is not a regular file (a FIFO would block) or is over `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError(f"{path}: not a regular file (a FIFO, a device or a directory)")
    if info.st_size > limit:
        os.close(fd)
        raise ValueError(f"{path}: {info.st_size} bytes, more than the {limit} read here")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def _read_header(f, path, size):
    """A safetensors file's header (its tensors) and metadata, and where its data starts, checked against the file's size before any data is read."""
    if size < 8:
        raise ValueError(f"{path}: not a safetensors file: {size} bytes is too short for a header")
    (length,) = struct.unpack("<Q", f.read(8))
    if length > size - 8:
        raise ValueError(f"{path}: not a safetensors file: the header claims {length} bytes but the file holds {size - 8} after its length")
    header = json.loads(f.read(length))
    metadata = header.pop("__metadata__", {})
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name!r} has dtype {t['dtype']!r}, only F32 is supported")
        begin, end = t["data_offsets"]
        if not 0 <= begin <= end <= size - 8 - length or end - begin != 4 * math.prod(t["shape"]):
            raise ValueError(f"{path}: tensor {name!r} {t['shape']} does not match its data_offsets {begin}..{end} in {size - 8 - length} data bytes")
    return header, metadata, 8 + length


def _read_tensors(f, header, start):
    f.seek(start)
    body = memoryview(f.read())
    return {name: torch.frombuffer(bytearray(body[t["data_offsets"][0] : t["data_offsets"][1]]), dtype=torch.float32).reshape(t["shape"]) for name, t in header.items()}


def read_safetensors(path):
    """The float32 tensors of a safetensors file and its metadata."""
    f, size = _open_regular(path, MAX_FILE_BYTES)
    with f:
        header, metadata, start = _read_header(f, path, size)
        return _read_tensors(f, header, start), metadata


def write_safetensors(path, tensors, metadata):
    """Writes float32 tensors whole or not at all: to a temporary file, then renamed over `path`."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        blob = t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header)
    text += " " * (-(8 + len(text)) % 8)  # the data starts 8-byte aligned
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text.encode())) + text.encode() + b"".join(blobs))
    os.replace(temporary, path)


# Keras' leaky_relu function's slope, what a dense or conv2d layer's "leaky_relu" means.
LEAKY_RELU_SLOPE = 0.2


def _activate(name, x, dim=1, negative_slope=LEAKY_RELU_SLOPE):
    """Activation `name` of x; softmax over `dim` (1: the features, or the channels of NCHW images)."""
    if name == "relu":
        return F.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "softmax":
        return F.softmax(x, dim=dim)
    if name == "elu":
        return F.elu(x)
    if name == "selu":
        return F.selu(x)
    if name == "softplus":
        return F.softplus(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, negative_slope)
    if name == "gelu":
        return F.gelu(x)  # the exact form, as Keras' gelu
    return x


def _along(size, kernel, stride, padding):
    """Output size and zero padding (before, after) along one dimension, as TensorFlow and webgpu-train compute them."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


class Dense(nn.Linear):
    def __init__(self, features, units, activation, bias=True, device=None):
        super().__init__(features, units, bias=bias, device=device)
        self.activation = activation

    def forward(self, x):
        return _activate(self.activation, super().forward(x))


class Conv2d(nn.Conv2d):
    # Padding is explicit: 'same' may pad one pixel more after than before, which nn.Conv2d cannot.
    def __init__(self, channels, filters, kernel, strides, pads, activation, bias=True, device=None):
        super().__init__(channels, filters, kernel, stride=strides, bias=bias, device=device)
        self.pads = pads
        self.activation = activation

    def forward(self, x):
        return _activate(self.activation, super().forward(F.pad(x, self.pads) if any(self.pads) else x))


class Activation(nn.Module):
    # An activation on its own; softmax over `dim`, the axis that is webgpu-train's last.
    def __init__(self, activation, dim, negative_slope):
        super().__init__()
        self.activation, self.dim, self.negative_slope = activation, dim, negative_slope

    def forward(self, x):
        return _activate(self.activation, x, self.dim, self.negative_slope)


class Rescaling(nn.Module):
    def __init__(self, scale, offset):
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x):
        return x * self.scale + self.offset


class Reshape(nn.Module):
    # Reshaped in webgpu-train's layout (an image's channels last), then an image back to NCHW.
    def __init__(self, image_in, target):
        super().__init__()
        self.image_in, self.target = image_in, target

    def forward(self, x):
        if self.image_in:
            x = x.permute(0, 2, 3, 1)
        x = x.reshape((x.shape[0], *self.target))
        return x.permute(0, 3, 1, 2) if len(self.target) == 3 else x


class GlobalPool2d(nn.Module):
    # Each channel's mean or maximum over the image: [N, C], or [N, C, 1, 1] with keepdims.
    def __init__(self, reduce, keepdims):
        super().__init__()
        self.reduce, self.keepdims = reduce, keepdims

    def forward(self, x):
        if self.reduce == "mean":
            return x.mean(dim=(2, 3), keepdim=self.keepdims)
        return x.amax(dim=(2, 3), keepdim=self.keepdims)


class MaxPool2d(nn.MaxPool2d):
    # Keras' 'same' takes the largest of what lies inside the image: padding with -inf, which never wins.
    def __init__(self, pool, strides, pads):
        super().__init__(pool, strides)
        self.pads = pads

    def forward(self, x):
        return super().forward(F.pad(x, self.pads, value=-math.inf) if any(self.pads) else x)


class AvgPool2d(nn.Module):
    # Keras' 'same' averages only what lies inside the image: the window's sum over its count of real pixels.
    def __init__(self, pool, strides, pads):
        super().__init__()
        self.pool, self.strides, self.pads = pool, strides, pads

    def forward(self, x):
        if not any(self.pads):
            return F.avg_pool2d(x, self.pool, self.strides)
        total = F.avg_pool2d(F.pad(x, self.pads), self.pool, self.strides, divisor_override=1)
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        count = F.avg_pool2d(F.pad(ones, self.pads), self.pool, self.strides, divisor_override=1)
        return total / count


def _keras_batch_norm(self, x):
    # Keras' training step: the moving variance follows the biased batch variance
    # (PyTorch's own would follow the unbiased one).
    if not self.training:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
    dims = [0] + list(range(2, x.dim()))
    mean = x.mean(dims)
    variance = x.var(dims, unbiased=False)
    with torch.no_grad():
        self.running_mean.lerp_(mean, self.momentum)
        self.running_var.lerp_(variance, self.momentum)
    shape = [1, -1] + [1] * (x.dim() - 2)
    normalized = (x - mean.view(shape)) * torch.rsqrt(variance + self.eps).view(shape)
    # Without affine (Keras' center and scale off) there is no weight or bias.
    return normalized * self.weight.view(shape) + self.bias.view(shape) if self.affine else normalized


class BatchNorm1d(nn.BatchNorm1d):
    forward = _keras_batch_norm


class BatchNorm2d(nn.BatchNorm2d):
    forward = _keras_batch_norm


def to_input(architecture, images):
    """Images [N, H, W] (or any N rows) as the model's input: NCHW for an [H, W, C] input shape."""
    shape = architecture["inputShape"]
    if len(shape) == 3:
        height, width, channels = shape
        return images.reshape(-1, height, width, channels).permute(0, 3, 1, 2).contiguous()
    return images.reshape([-1] + shape)


def build(architecture, device=None):
    """An nn.Sequential whose module i is layer i of the architecture; refuses what it cannot map, naming the layer. On device "meta" it allocates nothing."""
    shape = list(architecture["inputShape"])
    if len(shape) == 3:
        shape = [shape[2], shape[0], shape[1]]  # [C, H, W]
    layers = architecture["layers"]
    modules = []
    for i, layer in enumerate(layers):
        kind = layer["type"]
        name = f"layer {i} ({kind})"
        last = i == len(layers) - 1
        if kind in ("conv2d", "maxPooling2d", "averagePooling2d", "globalAveragePooling2d", "globalMaxPooling2d") and len(shape) != 3:
            raise ValueError(f"{name}: expects an image input, got {shape}")
        if kind == "dense":
            if len(shape) != 1:
                raise ValueError(f"{name}: expects a flat input, got {shape}")
            activation = "linear" if last and layer["activation"] == "softmax" else layer["activation"]
            modules.append(Dense(shape[0], layer["units"], activation, layer.get("useBias", True), device))
            shape = [layer["units"]]
        elif kind == "conv2d":
            (kh, kw), (sy, sx) = layer["kernelSize"], layer["strides"]
            oh, top, bottom = _along(shape[1], kh, sy, layer["padding"])
            ow, left, right = _along(shape[2], kw, sx, layer["padding"])
            activation = "linear" if last and layer["activation"] == "softmax" else layer["activation"]
            modules.append(Conv2d(shape[0], layer["filters"], (kh, kw), (sy, sx), (left, right, top, bottom), activation, layer.get("useBias", True), device))
            shape = [layer["filters"], oh, ow]
        elif kind == "maxPooling2d":
            (ph, pw), (sy, sx) = layer["poolSize"], layer["strides"]
            oh, top, bottom = _along(shape[1], ph, sy, layer.get("padding", "valid"))
            ow, left, right = _along(shape[2], pw, sx, layer.get("padding", "valid"))
            modules.append(MaxPool2d((ph, pw), (sy, sx), (left, right, top, bottom)))
            shape = [shape[0], oh, ow]
        elif kind == "averagePooling2d":
            (ph, pw), (sy, sx) = layer["poolSize"], layer["strides"]
            oh, top, bottom = _along(shape[1], ph, sy, layer["padding"])
            ow, left, right = _along(shape[2], pw, sx, layer["padding"])
            modules.append(AvgPool2d((ph, pw), (sy, sx), (left, right, top, bottom)))
            shape = [shape[0], oh, ow]
        elif kind in ("globalAveragePooling2d", "globalMaxPooling2d"):
            keepdims = layer.get("keepdims", False)
            modules.append(GlobalPool2d("mean" if kind == "globalAveragePooling2d" else "max", keepdims))
            shape = [shape[0], 1, 1] if keepdims else [shape[0]]
        elif kind == "flatten":
            modules.append(nn.Flatten())
            shape = [math.prod(shape)]
        elif kind == "activation":
            # Our last axis is PyTorch's dimension 1 for features and NCHW images, and its last otherwise.
            activation = "linear" if last and layer["activation"] == "softmax" else layer["activation"]
            modules.append(Activation(activation, 1 if len(shape) in (1, 3) else -1, layer.get("negativeSlope", LEAKY_RELU_SLOPE)))
        elif kind == "rescaling":
            modules.append(Rescaling(layer["scale"], layer["offset"]))
        elif kind == "reshape":
            known = math.prod(d for d in layer["targetShape"] if d != -1)
            target = [math.prod(shape) // known if d == -1 else d for d in layer["targetShape"]]
            modules.append(Reshape(len(shape) == 3, target))
            shape = [target[2], target[0], target[1]] if len(target) == 3 else target
        elif kind == "dropout":
            modules.append(nn.Dropout(layer["rate"]))
        elif kind == "batchNormalization":
            # Keras' momentum weighs the old moving statistics, PyTorch's the batch's.
            # Keras' center and scale off, both (the export refuses one without the other): PyTorch's affine off.
            affine = layer.get("center", True) and layer.get("scale", True)
            options = dict(eps=layer["epsilon"], momentum=1 - layer["momentum"], affine=affine, device=device)
            if len(shape) == 1:
                modules.append(BatchNorm1d(shape[0], **options))
            elif len(shape) == 3:
                modules.append(BatchNorm2d(shape[0], **options))
            else:
                raise ValueError(f"{name}: only [features] or [height, width, channels] inputs map to PyTorch's BatchNorm, got {shape}")
        else:
            raise ValueError(f"{name}: unknown layer type '{kind}'")
    model = nn.Sequential(*modules)
    model.softmax_output = layers[-1].get("activation") == "softmax"
    return model


def load(path):
    """The model in `path` (a model.safetensors this export wrote, or train.py saved), and its architecture.

    The header is checked against the architecture (every tensor there, of its
    shape, and nothing else) on PyTorch's "meta" device, which allocates
    nothing, before the weights are read or the model built: a small file that
    declares a huge layer is refused without allocating it.
    """
    f, size = _open_regular(path, MAX_FILE_BYTES)
    with f:
        header, metadata, start = _read_header(f, path, size)
        if "architecture" not in metadata:
            raise ValueError(f"{path}: no architecture in its metadata")
        architecture = json.loads(metadata["architecture"])
        # num_batches_tracked counts steps only for momentum=None, which these layers never use: it is not saved.
        expected = {name: list(t.shape) for name, t in build(architecture, device="meta").state_dict().items() if not name.endswith(".num_batches_tracked")}
        found = {name: t["shape"] for name, t in header.items()}
        if found != expected:
            missing = sorted(set(expected) - set(found))
            unexpected = sorted(set(found) - set(expected))
            shapes = sorted(f"{name} {found[name]} (expected {expected[name]})" for name in set(found) & set(expected) if found[name] != expected[name])
            raise ValueError(f"{path}: missing tensors {missing}, unexpected tensors {unexpected}, of another shape {shapes}")
        tensors = _read_tensors(f, header, start)
    model = build(architecture)
    model.load_state_dict(tensors, strict=False)
    return model, architecture


def save(model, architecture, path):
    """Writes the weights as load() reads them, with the architecture, so webgpu-train can import them."""
    state = {k: v for k, v in model.state_dict().items() if not k.endswith(".num_batches_tracked")}
    write_safetensors(path, state, {"format": "pt", "architecture": json.dumps(architecture)})


def probabilities(model, outputs):
    return F.softmax(outputs, dim=1) if model.softmax_output else outputs


def read_mnist(directory, part, limit=None):
    """Images [N, H, W] scaled to 0..1 and labels of an MNIST IDX pair ('train' or 't10k'), .gz or not."""
    import gzip

    def read(stem):
        for path, compressed in ((os.path.join(directory, stem), False), (os.path.join(directory, stem + ".gz"), True)):
            if os.path.exists(path):
                f, _ = _open_regular(path, MAX_IDX_BYTES)
                with f:
                    data = gzip.GzipFile(fileobj=f).read(MAX_IDX_BYTES + 1) if compressed else f.read()
                if len(data) > MAX_IDX_BYTES:
                    raise ValueError(f"{path}: inflates to more than the {MAX_IDX_BYTES} bytes an IDX file may hold here")
                return data
        raise FileNotFoundError(f"{directory}: neither {stem} nor {stem}.gz")

    images, labels = read(f"{part}-images-idx3-ubyte"), read(f"{part}-labels-idx1-ubyte")
    count, height, width = struct.unpack(">III", images[4:16])
    count = min(count, struct.unpack(">I", labels[4:8])[0], limit or count)
    pixels = torch.frombuffer(bytearray(images[16 : 16 + count * height * width]), dtype=torch.uint8)
    # Divided in float64, then rounded once, as webgpu-train scales them.
    x = (pixels.to(torch.float64) / 255).to(torch.float32).reshape(count, height, width)
    y = torch.frombuffer(bytearray(labels[8 : 8 + count]), dtype=torch.uint8).to(torch.int64)
    return x, y
