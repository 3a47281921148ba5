"""`runtime.shard.Balancer`: who owns each packet with `--workers N`.

The contract the workers rely on: an address pair (either direction, fragments included)
always meets one worker; every worker computes the same owners from the same packets; the
shares stay even where a plain hash of a few busy pairs does not; a full table stops
growing and sends new pairs by the plain hash, the known ones where they were.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tocsin.decode.layout import FLAG_FRAG, FLAG_IP, new_packets
from tocsin.runtime.shard import Balancer, owners


def packets(pairs: list[tuple[int, int]], flags: int = FLAG_IP) -> npt.NDArray[np.void]:
    """Decoded records with IPv4-mapped addresses (src, dst) and `flags`."""
    pk = new_packets(len(pairs))[: len(pairs)]
    for i, (src, dst) in enumerate(pairs):
        pk[i]["src_hi"], pk[i]["src_lo"] = 0, 0xFFFF_0000_0000 | src
        pk[i]["dst_hi"], pk[i]["dst_lo"] = 0, 0xFFFF_0000_0000 | dst
        pk[i]["flags"] = flags
    return pk


def test_a_pair_meets_one_worker_both_ways_and_across_batches() -> None:
    b = Balancer(3)
    first = b.owners(packets([(1, 2), (3, 4), (5, 6), (7, 8)]))
    again = b.owners(packets([(2, 1), (4, 3), (6, 5), (8, 7), (1, 2)]))
    assert again.tolist() == [*first.tolist(), first[0]]
    frags = b.owners(packets([(3, 4), (4, 3)], flags=FLAG_IP | FLAG_FRAG))
    assert frags.tolist() == [first[1], first[1]]


def test_every_worker_computes_the_same_owners() -> None:
    rng = np.random.default_rng(7)
    batches = [
        packets([(int(a), int(b)) for a, b in rng.integers(1, 50, size=(500, 2))]) for _ in range(4)
    ]
    runs = []
    for _ in range(3):  # one balancer per worker process, fed the same capture
        b = Balancer(3)
        runs.append(np.concatenate([b.owners(pk) for pk in batches]))
    assert all((r == runs[0]).all() for r in runs)


def test_shares_stay_even_where_the_hash_of_a_few_busy_pairs_does_not() -> None:
    # 8 pairs, 1000 packets each, interleaved: a hash may put 5 of them on one worker
    pairs = [(10 + p, 100 + p) for p in range(8)] * 1000
    pk = packets(pairs)
    got = np.bincount(Balancer(2).owners(pk), minlength=2)
    assert got.tolist() == [4000, 4000]
    hashed = np.bincount(owners(pk, 2), minlength=2)
    assert hashed.sum() == 8000  # (for comparison only: its split depends on the hash)


def test_packets_without_ip_go_to_worker_0() -> None:
    b = Balancer(2)
    b.owners(packets([(1, 2)]))  # worker 0 now has more: a new pair would go to worker 1
    assert b.owners(packets([(0, 0)], flags=0)).tolist() == [0]


def test_a_full_table_keeps_known_pairs_and_hashes_new_ones() -> None:
    b = Balancer(2, capacity=4)
    known = packets([(i, 1000 + i) for i in range(4)])
    where = b.owners(known)
    assert b.pairs == 4
    late = packets([(i, 2000 + i) for i in range(50)])
    assert (b.owners(late) == owners(late, 2)).all()  # new pairs: the plain hash
    assert b.pairs == 4
    assert (b.owners(known) == where).all()  # known pairs: where they were
