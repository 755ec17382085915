"""P x K batches, random triplets and balanced pairs drawn from a batch."""

import numpy as np
import pytest

from npvision.face import PKSampler, pairs_from_batch, random_triplets


def test_pk_batches_hold_k_images_of_p_identities():
    labels = np.repeat(np.arange(10), 6)
    sampler = PKSampler(labels, p=4, k=3, seed=0)
    assert sampler.batch_size == 12
    for _ in range(20):
        idx = sampler.sample()
        y = labels[idx]
        assert len(idx) == 12 and len(np.unique(y)) == 4
        assert all(np.sum(y == i) == 3 for i in np.unique(y))
        assert all(y[j] == y[j - j % 3] for j in range(12))                 # identity by identity
        assert len(np.unique(idx)) == 12                                      # 6 >= k: no repeats
    again = PKSampler(labels, p=4, k=3, seed=0).sample()
    np.testing.assert_array_equal(PKSampler(labels, p=4, k=3, seed=0).sample(), again)


def test_pk_skips_singletons_and_repeats_small_identities():
    labels = np.array([0, 0, 1, 2, 2, 2, 3])                                  # 1 and 3 are singletons
    sampler = PKSampler(labels, p=2, k=4, seed=1)
    seen = set()
    for idx in (sampler.sample() for _ in range(30)):
        seen |= set(labels[idx].tolist())
        assert np.sum(labels[idx] == 0) in (0, 4)                            # 2 images, drawn with replacement
    assert seen == {0, 2}
    batch = next(iter(sampler))
    assert len(batch) == 8


def test_pk_errors():
    with pytest.raises(ValueError, match="k >= 2"):
        PKSampler(np.repeat(np.arange(5), 2), p=2, k=1)
    with pytest.raises(ValueError, match="p >= 2"):
        PKSampler(np.repeat(np.arange(5), 2), p=1, k=2)
    with pytest.raises(ValueError, match="only 2 identities"):
        PKSampler(np.array([0, 0, 1, 1, 2]), p=3, k=2)
    with pytest.raises(ValueError, match="1-D"):
        PKSampler(np.zeros((2, 2)), p=2, k=2)


def test_random_triplets_and_pairs_are_valid():
    labels = np.repeat(np.arange(5), 4)
    a, p, n = random_triplets(labels, seed=2)
    assert len(a) == 20
    assert np.all(labels[a] == labels[p]) and np.all(a != p) and np.all(labels[a] != labels[n])
    first, second, same = pairs_from_batch(labels, seed=3)
    assert len(first) == 40 and same.sum() == 20
    np.testing.assert_array_equal(labels[first] == labels[second], same)
    with pytest.raises(ValueError, match="positive and a negative"):
        random_triplets(np.arange(4))
