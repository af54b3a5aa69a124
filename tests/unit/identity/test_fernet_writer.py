"""FernetWriter writes the messages cryptography's Fernet writes, and Fernet reads them."""

from __future__ import annotations

import base64
import os
import random
import threading
import time

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from onestack.identity.tokens import FernetWriter


def reference(key: bytes, data: bytes, iv: bytes, at: int) -> bytes:
    """A Fernet message built step by step from the spec with fresh contexts."""
    raw = base64.urlsafe_b64decode(key)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(raw[16:]), modes.CBC(iv)).encryptor()
    signed = b"\x80" + at.to_bytes(8, "big") + iv + encryptor.update(padded) + encryptor.finalize()
    mac = hmac.HMAC(raw[:16], hashes.SHA256())
    mac.update(signed)
    return base64.urlsafe_b64encode(signed + mac.finalize())


def test_same_bytes_as_a_fresh_context_for_every_message_in_a_row() -> None:
    key = Fernet.generate_key()
    writer = FernetWriter(key)
    rng = random.Random(3)
    for length in [*range(0, 70), 200, 1000, *(rng.randrange(0, 400) for _ in range(200))]:
        data = rng.randbytes(length)
        iv = rng.randbytes(16)
        at = rng.randrange(0, 2**40)
        assert writer.encrypt(data, iv, at) == reference(key, data, iv, at), length


def test_fernet_reads_what_it_writes() -> None:
    key = Fernet.generate_key()
    writer = FernetWriter(key)
    fernet = Fernet(key)
    before = int(time.time())
    for length in range(0, 300, 7):
        data = os.urandom(length)
        message = writer.encrypt(data)
        assert fernet.decrypt(message) == data
        assert before <= fernet.extract_timestamp(message) <= int(time.time())


def test_fresh_random_iv_per_message() -> None:
    writer = FernetWriter(Fernet.generate_key())
    ivs = {base64.urlsafe_b64decode(writer.encrypt(b"same"))[9:25] for _ in range(500)}
    assert len(ivs) == 500


def test_threads_share_one_writer() -> None:
    key = Fernet.generate_key()
    writer = FernetWriter(key)
    fernet = Fernet(key)
    failures: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(400):
            data = rng.randbytes(rng.randrange(0, 300))
            if fernet.decrypt(writer.encrypt(data)) != data:
                failures.append(f"thread {seed}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_rejects_a_bad_key() -> None:
    with pytest.raises(ValueError):
        FernetWriter(base64.urlsafe_b64encode(b"short"))
