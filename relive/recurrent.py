"""An LSTM layer whose weight gradients are one matmul each, for the frame predictor's 1024-d recurrence.

Keras' LSTM steps its cell in a loop and differentiates it step by step: every one of the 31
steps multiplies the input by the 1024x4096 kernel and, backwards, adds a full 16 MB gradient
of each weight matrix, so a batch of 16 spends its time streaming weights through memory. Here
(as cuDNN does) the input projection of every step is one matmul before the loop, the loop only
carries h @ U, and the backward loop only produces the gate gradients dZ; dW, dU and db are
then single matmuls / sums over all steps. Same variables, gate order (i, f, g, o) and
initialisers as `keras.layers.LSTM(unit_forget_bias=True)`, same outputs. Under mixed precision
the matmuls run in bf16 while the gates and the cell state stay float32.
"""
import keras
import tensorflow as tf

from videocore import device


def _gates(z, units):
    """Pre-activations (B, 4U) -> input, forget, cell candidate and output gates, each (B, U)."""
    i, f, g, o = tf.split(z, 4, axis=-1)
    return tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)


@tf.custom_gradient
def lstm_recurrence(projected, recurrent_kernel, h0, c0):
    """Runs the LSTM recurrence over time-major input projections.

    projected: (T, B, 4U) = x_t @ W + b for every step; recurrent_kernel U: (U, 4U);
    h0, c0: (B, U). The matmuls run in U's dtype (bf16 under mixed precision: AMX, half the
    weight traffic); gates, cell state and outputs are float32 whatever it is. Returns float32
    (outputs h_1..h_T (T, B, U), h_T, c_T).
    """
    units = recurrent_kernel.shape[0]
    steps = tf.shape(projected)[0]
    matmul_dtype = recurrent_kernel.dtype
    h0, c0 = tf.cast(h0, tf.float32), tf.cast(c0, tf.float32)

    def recurrent(h):
        return tf.cast(tf.matmul(tf.cast(h, matmul_dtype), recurrent_kernel), tf.float32)

    def forward(t, h, c, hs, cs, gate_store):
        i, f, g, o = _gates(tf.cast(projected[t], tf.float32) + recurrent(h), units)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gate_store.write(t, tf.concat([i, f, g, o], -1))

    def store(shape):
        return tf.TensorArray(tf.float32, size=steps, element_shape=shape)

    _, h_last, c_last, hs, cs, gate_store = tf.while_loop(
        lambda t, *_: t < steps, forward,
        (0, h0, c0, store(h0.shape), store(h0.shape), store(projected.shape[1:])))
    outputs, cells, gates = hs.stack(), cs.stack(), gate_store.stack()

    def gradient(d_outputs, d_h_last, d_c_last):
        previous_h = tf.concat([h0[None], outputs[:-1]], 0)  # (T, B, U)
        previous_c = tf.concat([c0[None], cells[:-1]], 0)
        d_outputs = tf.zeros_like(outputs) if d_outputs is None else tf.cast(d_outputs, tf.float32)
        d_h_last = tf.zeros_like(h0) if d_h_last is None else tf.cast(d_h_last, tf.float32)
        d_c_last = tf.zeros_like(c0) if d_c_last is None else tf.cast(d_c_last, tf.float32)

        def backward(t, d_h, d_c, dz_store):
            i, f, g, o = tf.split(gates[t], 4, axis=-1)
            tanh_c = tf.tanh(cells[t])
            d_h = d_h + d_outputs[t]
            d_c = d_c + d_h * o * (1.0 - tf.square(tanh_c))
            dz = tf.concat([d_c * g * i * (1.0 - i), d_c * previous_c[t] * f * (1.0 - f),
                            d_c * i * (1.0 - tf.square(g)), d_h * tanh_c * o * (1.0 - o)], -1)
            d_h = tf.cast(tf.matmul(tf.cast(dz, matmul_dtype), recurrent_kernel, transpose_b=True), tf.float32)
            return t - 1, d_h, d_c * f, dz_store.write(t, dz)

        _, d_h0, d_c0, dz_store = tf.while_loop(
            lambda t, *_: t >= 0, backward, (steps - 1, d_h_last, d_c_last, store(projected.shape[1:])))
        d_projected = dz_store.stack()  # (T, B, 4U)
        d_recurrent = tf.matmul(tf.cast(tf.reshape(previous_h, [-1, units]), matmul_dtype),
                                tf.cast(tf.reshape(d_projected, [-1, 4 * units]), matmul_dtype), transpose_a=True)
        return tf.cast(d_projected, projected.dtype), d_recurrent, d_h0, d_c0

    return (outputs, h_last, c_last), gradient


class LSTM(keras.layers.Layer):
    """LSTM over (B, T, D) -> (outputs (B, T, U), h_T (B, U), c_T (B, U)), optionally from `initial_state` [h, c].

    Drop-in for `keras.layers.LSTM(units, return_sequences=True, return_state=True)` (variables
    `kernel` (D, 4U), `recurrent_kernel` (U, 4U), `bias` (4U) with the forget gate's bias at 1).
    Matmuls in the compute dtype, the recurrence's state and the outputs in float32.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        units = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(units, 4 * units), initializer="orthogonal",
                                                name="recurrent_kernel")

        def bias_initializer(shape, dtype=None):
            return tf.concat([tf.zeros([units]), tf.ones([units]), tf.zeros([2 * units])], 0)

        self.bias = self.add_weight(shape=(4 * units,), initializer=bias_initializer, name="bias")

    def call(self, inputs, initial_state=None, training=False):
        del training
        batch = tf.shape(inputs)[0]
        if initial_state is None:
            initial_state = [tf.zeros([batch, self.units])] * 2
        h0, c0 = (tf.cast(state, tf.float32) for state in initial_state)
        time_major = tf.transpose(inputs, [1, 0, 2])  # (T, B, D)
        projected = tf.einsum("tbd,dg->tbg", time_major, self.kernel) + self.bias
        outputs, h_last, c_last = lstm_recurrence(projected, tf.convert_to_tensor(self.recurrent_kernel), h0, c0)
        return tf.transpose(outputs, [1, 0, 2]), h_last, c_last

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def lstm(units, name=None, dtype=None):
    """The LSTM for the device in force (`videocore.device`): `LSTM` above on CPU, Keras' (cuDNN) on GPU.

    Both take (B, T, D) and an optional [h, c] and return (outputs (B, T, U), h_T, c_T) from the same
    three variables. Keras' runs in the layer's compute dtype throughout, where `LSTM` keeps the state in
    float32.
    """
    if device.choices().cudnn_lstm:
        return keras.layers.LSTM(units, return_sequences=True, return_state=True, name=name, dtype=dtype)
    return LSTM(units, name=name, dtype=dtype)
