"""Personal data is sealed per complaint; erasing the key makes it unreadable."""

from __future__ import annotations

import pytest

from events.personal import PersonalData, contact_hash, new_key, seal, unseal

PERSON = PersonalData(
    name="李伟 Li Wei", phone="+852 9123 4567", email="li.wei@example.org", address="8 Harbour Rd"
)


def test_sealed_data_unseals_with_its_key() -> None:
    key = new_key()
    sealed = seal(PERSON, key)
    assert unseal(sealed, key) == PERSON


def test_sealed_text_does_not_contain_the_clear_data() -> None:
    sealed = seal(PERSON, new_key())
    assert "Harbour" not in sealed and "9123" not in sealed


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = new_key()
    assert seal(PERSON, key) != seal(PERSON, key)


def test_erased_key_makes_data_unreadable() -> None:
    assert unseal(seal(PERSON, new_key()), None) is None


def test_wrong_key_is_a_fault_not_an_erasure() -> None:
    with pytest.raises(ValueError, match="damaged"):
        unseal(seal(PERSON, new_key()), new_key())


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(PERSON, b"short")


def test_keys_are_32_random_bytes() -> None:
    assert len(new_key()) == 32
    assert new_key() != new_key()


@pytest.mark.parametrize("show", [repr, str])
def test_repr_masks_every_value(show: object) -> None:
    text = show(PERSON)  # type: ignore[operator]
    assert "Li Wei" not in text and "9123" not in text and "example" not in text and "Harbour" not in text
    assert text == "PersonalData(name=<set>, phone=<set>, email=<set>, address=<set>)"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("+852 9123-4567", "85291234567"),
        (" Li.Wei@Example.org ", "li.wei@example.org"),
        ("(852) 9123 4567", "852 91234567"),
    ],
)
def test_contact_hash_matches_the_same_contact_written_differently(one: str, other: str) -> None:
    assert contact_hash(one, b"secret") == contact_hash(other, b"secret")


def test_contact_hash_depends_on_the_secret() -> None:
    assert contact_hash("91234567", b"one") != contact_hash("91234567", b"two")
    assert len(contact_hash("91234567", b"one")) == 64


@pytest.mark.parametrize(("value", "secret"), [("91234567", b""), (" - ", b"secret")])
def test_contact_hash_refuses_empty_secret_or_contact(value: str, secret: bytes) -> None:
    with pytest.raises(ValueError):
        contact_hash(value, secret)


def test_sealed_data_opens_with_eventsourcings_aes_cipher_and_back() -> None:
    """Our layout is the library's (nonce, tag, ciphertext): data sealed by either opens with the other."""
    from base64 import b64decode as _d
    from base64 import b64encode as _e

    from eventsourcing.cipher import AESCipher
    from eventsourcing.utils import Environment

    from events.personal import PersonalData, new_key, seal, unseal

    key = new_key()
    library = AESCipher(Environment(env={AESCipher.CIPHER_KEY: _e(key).decode("ascii")}))
    data = PersonalData(name="陈美玲", phone="13812345678", email=None, address="海滨路 88 号")
    opened = library.decrypt(_d(seal(data, key)))
    assert PersonalData(**__import__("json").loads(opened)) == data
    theirs = _e(library.encrypt(b'{"name":"A","phone":null,"email":null,"address":null}')).decode("ascii")
    assert unseal(theirs, key) == PersonalData(name="A", phone=None, email=None, address=None)
