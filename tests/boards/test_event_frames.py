# SPDX-License-Identifier: MIT
"""Event request frames on the host side: the words decode back to exactly the effective input
events of the image, in the encoder's order (decoded here independently of the encoder)."""

import numpy as np
import pytest

from firstspike.boards import protocol
from firstspike.model import data as datamod

SEED = 30


def decode_events(frame: bytes) -> list[tuple[int, int]]:
    """(time, address) of every event in an event frame, checking its header and CRC."""
    assert frame[0] == 0xA5 and frame[2] == 0x22
    n = frame[3] | frame[4] << 8
    assert len(frame) == 6 + n and protocol.CRC.compute(frame[1:-1]) == frame[-1]
    words = np.frombuffer(frame[5:-1], dtype="<u2").tolist()
    events, now = [], 0
    for word in words:
        if word >> 10 == 63:
            assert word == 0xFFFF
            now += 63
        else:
            now += word >> 10
            events.append((now, word & 0x3FF))
    return events


@pytest.mark.parametrize("encoding,T", [("bs4nn", 256), ("s4nn", 64)])
def test_event_frame_holds_the_effective_events_in_walk_order(encoding, T):
    images = datamod.load("mnist-mini", "test").images[:40].reshape(40, -1)
    for k, image in enumerate(images):
        frame = protocol.encode_events(7, *protocol.image_events(image, encoding, T))
        got = decode_events(frame)
        p = image.astype(int)
        t = 255 - p if encoding == "bs4nn" else (255 - p) * T // 255
        want = sorted(((int(t[i]), i) for i in range(len(p)) if t[i] <= T - 2), key=lambda e: (e[0], -e[1]))
        assert got == want, f"image {k}"


def test_encode_image_falls_back_to_raw_when_events_are_longer():
    rng = np.random.default_rng(SEED)
    busy = rng.integers(1, 256, 784).astype(np.uint8)  # every pixel is an event: 1,568 bytes of words
    assert protocol.encode_image(3, busy) == protocol.encode_request(3, busy)
    sparse = np.zeros(784, np.uint8)
    sparse[[5, 700]] = [255, 3]
    frame = protocol.encode_image(3, sparse)
    assert decode_events(frame) == [(0, 5), (252, 700)]  # 252 = 63 * 4: four skip words first
    assert protocol.encode_image(3, sparse, frames="raw") == protocol.encode_request(3, sparse)
    with pytest.raises(ValueError, match="frames must be"):
        protocol.encode_image(3, sparse, frames="packed")


def test_events_out_of_order_are_refused():
    with pytest.raises(ValueError, match="increasing time"):
        protocol.encode_events(0, [4, 5], [3, 3])
    with pytest.raises(ValueError, match="out of range"):
        protocol.encode_events(0, [1023], [0])
