"""DICOM associations as `Turn` lists: modalities storing studies, viewers querying and
retrieving, the PACS sending C-MOVE sub-operations.

`Association(rng, requestor, acceptor, contexts)` starts with the A-ASSOCIATE-RQ (CLIENT: the
requestor, who opened the TCP connection) and the A-ASSOCIATE-AC, which accepts every context
with the first transfer syntax proposed (`contexts_for` proposes Explicit then Implicit VR
Little Endian). Methods append DIMSE exchanges — `echo`, `store` / `store_one`, `find`, `get`,
`retrieve_request` / `retrieve_response` (the C-MOVE/C-GET pieces) — and `release` or `abort`
end it; `turns` is the conversation. Messages are fragmented to the receiver's maximum PDU
length; a C-STORE's command and data set make one turn (one write of many PDUs).

Ready-made conversations: `echo`, `store`, `find`, `get`, `reject`, and `move`, which returns
the C-MOVE association and, per study, the archive's association to the move destination
carrying the sub-operation C-STOREs (`Retrieve`, with start offsets estimated by `duration`).

Delays are think times (`Turn.delay_s`): a few ms for a store SCP to write an image, tens of
ms for an archive to answer a query. PDUs: `dicom_pdu`; data sets: `dicom_dataset`.
Deterministic for a given `rng` state; no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.exercise.proto import dicom_dataset as dd
from tocsin.exercise.proto import dicom_pdu as pdu
from tocsin.exercise.proto.dicom_pdu import (
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    PATIENT_ROOT_FIND,
    PENDING,
    STUDY_ROOT_FIND,
    STUDY_ROOT_GET,
    STUDY_ROOT_MOVE,
    SUCCESS,
    VERIFICATION,
    Ae,
    Context,
)
from tocsin.exercise.proto.patients import Patient, Study
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

SYNTAXES = (EXPLICIT_VR_LE, IMPLICIT_VR_LE)
LINK_BYTES_S = 100e6  # transfer time estimates (`duration`): a busy gigabit link
RTT_S = 0.001


def contexts_for(
    abstract_syntaxes: Sequence[str], syntaxes: Sequence[str] = SYNTAXES
) -> list[Context]:
    """One presentation context per abstract syntax (IDs 1, 3, 5...), each proposing
    `syntaxes`."""
    return [Context(2 * i + 1, a, tuple(syntaxes)) for i, a in enumerate(abstract_syntaxes)]


@dataclass(slots=True)
class Association:
    """One association on one TCP connection; see the module docstring."""

    rng: random.Random
    requestor: Ae
    acceptor: Ae
    contexts: Sequence[Context]
    scp_roles: tuple[str, ...] = ()  # SOP classes the requestor acts as SCP for (C-GET)
    turns: list[Turn] = field(default_factory=list)
    _syntax: dict[str, tuple[int, bool]] = field(default_factory=dict)  # abstract -> id, explicit
    _msg_id: list[int] = field(default_factory=lambda: [0, 0])  # next message ID per side

    def __post_init__(self) -> None:
        cxs = tuple(self.contexts)
        rq = pdu.associate_rq(self.requestor, self.acceptor.title, cxs, self.scp_roles)
        results = tuple((c.id, 0, c.transfer_syntaxes[0]) for c in cxs)
        ac = pdu.associate_ac(self.requestor.title, self.acceptor, results, self.scp_roles)
        for c in cxs:
            self._syntax.setdefault(
                c.abstract_syntax, (c.id, c.transfer_syntaxes[0] != IMPLICIT_VR_LE)
            )
        self.turns += [Turn(CLIENT, rq), Turn(SERVER, ac, self._ms(1, 5))]

    # --- helpers --------------------------------------------------------------------------

    def _ms(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, hi) / 1000

    def _next_id(self, side: int) -> int:
        self._msg_id[side] = self._msg_id[side] % 0xFFFF + 1
        return self._msg_id[side]

    def context(self, abstract: str) -> tuple[int, bool]:
        """(presentation context ID, explicit VR) accepted for `abstract` (a SOP class)."""
        return self._syntax[abstract]

    def _max(self, sender: int) -> int:
        """The receiver's maximum PDU length for what `sender` sends."""
        return self.acceptor.max_pdu if sender == CLIENT else self.requestor.max_pdu

    def _send(self, side: int, pcid: int, cmd: bytes, data: bytes | None, delay: float) -> None:
        out = pdu.pdata(pcid, cmd, True, self._max(side))
        if data is not None:
            out = pdu.pdata(pcid, data, False, self._max(side), out)
        self.turns.append(Turn(side, out, delay))

    # --- services -------------------------------------------------------------------------

    def echo(self, delay_s: float = 0.0) -> None:
        pcid, _ = self.context(VERIFICATION)
        mid = self._next_id(CLIENT)
        rq = pdu.command("C-ECHO-RQ", MessageID=mid, AffectedSOPClassUID=VERIFICATION)
        self._send(CLIENT, pcid, rq, None, delay_s)
        rsp = pdu.command(
            "C-ECHO-RSP",
            MessageIDBeingRespondedTo=mid,
            AffectedSOPClassUID=VERIFICATION,
            Status=SUCCESS,
        )
        self._send(SERVER, pcid, rsp, None, self._ms(0.2, 2))

    def store(
        self,
        studies: Sequence[Study],
        *,
        side: int = CLIENT,
        move_originator: tuple[str, int] | None = None,
    ) -> None:
        """C-STORE every image of `studies`, issued by `side`; `move_originator`: (AE title,
        message ID) of the C-MOVE these sub-operations serve."""
        for sop, inst, data in _images(self.rng, studies, self.context):
            self.store_one(sop, inst, data, side=side, move_originator=move_originator)

    def store_one(
        self,
        sop: str,
        inst: str,
        data: bytes,
        *,
        side: int = CLIENT,
        move_originator: tuple[str, int] | None = None,
        status: int = SUCCESS,
    ) -> None:
        """One C-STORE of an encoded image (the issuer thinks 0.3-3 ms first) and its
        response (2-15 ms to write it)."""
        pcid, _ = self.context(sop)
        mid = self._next_id(side)
        extra: dict[str, Any] = {}
        if move_originator is not None:
            extra = {
                "MoveOriginatorApplicationEntityTitle": move_originator[0],
                "MoveOriginatorMessageID": move_originator[1],
            }
        rq = pdu.command(
            "C-STORE-RQ",
            dataset=True,
            MessageID=mid,
            AffectedSOPClassUID=sop,
            AffectedSOPInstanceUID=inst,
            Priority=0,
            **extra,
        )
        self._send(side, pcid, rq, data, self._ms(0.3, 3))
        rsp = pdu.command(
            "C-STORE-RSP",
            MessageIDBeingRespondedTo=mid,
            AffectedSOPClassUID=sop,
            AffectedSOPInstanceUID=inst,
            Status=status,
        )
        self._send(1 - side, pcid, rsp, None, self._ms(2, 15))

    def find(
        self,
        level: str,
        keys: Mapping[str, str],
        matches: Sequence[Patient] | Sequence[Study],
        *,
        delay_s: float = 0.0,
        status: int = SUCCESS,
    ) -> None:
        """One C-FIND at `level` with identifier `keys` (e.g. {"PatientName": "*"}) in the
        Patient Root model for PATIENT level, Study Root otherwise, answered by a pending
        response per match (patients, or studies) and a final `status`. The caller decides
        what matches."""
        model = PATIENT_ROOT_FIND if level == "PATIENT" else STUDY_ROOT_FIND
        pcid, explicit = self.context(model)
        mid = self._next_id(CLIENT)
        rq = pdu.command(
            "C-FIND-RQ", dataset=True, MessageID=mid, AffectedSOPClassUID=model, Priority=0
        )
        self._send(CLIENT, pcid, rq, dd.query(level, keys, explicit), delay_s)
        pending = pdu.command(
            "C-FIND-RSP",
            dataset=True,
            MessageIDBeingRespondedTo=mid,
            AffectedSOPClassUID=model,
            Status=PENDING,
        )
        delay = self._ms(10, 150)  # the archive's database query
        ae = self.acceptor.title
        for m in matches:
            if isinstance(m, Patient):
                ident = dd.patient_match(m, ae, explicit)
            else:
                ident = dd.study_match(m, ae, explicit)
            self._send(SERVER, pcid, pending, ident, delay)
            delay = self._ms(0.05, 0.5)
        final = pdu.command(
            "C-FIND-RSP", MessageIDBeingRespondedTo=mid, AffectedSOPClassUID=model, Status=status
        )
        self._send(SERVER, pcid, final, None, delay)

    def retrieve_request(
        self, name: str, study: Study, destination: str | None, delay_s: float
    ) -> int:
        """Send a STUDY-level C-MOVE-RQ (to `destination`) or C-GET-RQ; returns its ID."""
        model = STUDY_ROOT_MOVE if name == "C-MOVE" else STUDY_ROOT_GET
        pcid, explicit = self.context(model)
        mid = self._next_id(CLIENT)
        elems: dict[str, Any] = {"MoveDestination": destination} if destination else {}
        rq = pdu.command(
            f"{name}-RQ",
            dataset=True,
            MessageID=mid,
            AffectedSOPClassUID=model,
            Priority=0,
            **elems,
        )
        self._send(CLIENT, pcid, rq, dd.retrieve(study, explicit), delay_s)
        return mid

    def retrieve_response(
        self, name: str, mid: int, status: int, left: int, done: int, delay_s: float
    ) -> None:
        """A C-MOVE-RSP / C-GET-RSP with its sub-operation counts (`left` omitted when the
        response is final, as PS3.7 C.4.2.1.6 allows)."""
        model = STUDY_ROOT_MOVE if name == "C-MOVE" else STUDY_ROOT_GET
        pcid, _ = self.context(model)
        counts: dict[str, Any] = (
            {"NumberOfRemainingSuboperations": left} if status == PENDING else {}
        )
        rsp = pdu.command(
            f"{name}-RSP",
            MessageIDBeingRespondedTo=mid,
            AffectedSOPClassUID=model,
            Status=status,
            NumberOfCompletedSuboperations=done,
            NumberOfFailedSuboperations=0,
            NumberOfWarningSuboperations=0,
            **counts,
        )
        self._send(SERVER, pcid, rsp, None, delay_s)

    def get(self, studies: Sequence[Study], delay_s: float = 0.0) -> None:
        """One C-GET per study: the acceptor C-STOREs its images back on this association,
        a pending C-GET-RSP after each, then the final response."""
        for study in studies:
            mid = self.retrieve_request("C-GET", study, None, delay_s)
            total = study.images
            for done, (sop, inst, data) in enumerate(_images(self.rng, [study], self.context), 1):
                self.store_one(sop, inst, data, side=SERVER)
                if done < total:
                    self.retrieve_response("C-GET", mid, PENDING, total - done, done, 0.0)
            self.retrieve_response("C-GET", mid, SUCCESS, 0, total, self._ms(0.2, 2))
            delay_s = self._ms(5, 50)

    def release(self, delay_s: float = 0.0) -> list[Turn]:
        """A-RELEASE-RQ from the requestor, A-RELEASE-RP; returns `turns`."""
        self.turns += [
            Turn(CLIENT, pdu.release_rq(), delay_s or self._ms(1, 20)),
            Turn(SERVER, pdu.release_rp(), self._ms(0.2, 2)),
        ]
        return self.turns

    def abort(self, side: int = CLIENT, delay_s: float = 0.0) -> list[Turn]:
        """A-ABORT from `side` (the service user); returns `turns`."""
        self.turns.append(Turn(side, pdu.abort(0, 0), delay_s))
        return self.turns


def _images(
    rng: random.Random, studies: Sequence[Study], ctx: Callable[[str], tuple[int, bool]]
) -> Iterator[tuple[str, str, bytes]]:
    """(SOP class, SOP instance UID, data set encoded as its context negotiated) per image."""
    for study in studies:
        sop = study.modality.sop_class
        _, explicit = ctx(sop)
        for inst, data in dd.study_images(rng, study, explicit):
            yield sop, inst, data


def storage_classes(studies: Sequence[Study]) -> list[str]:
    """The storage SOP classes of `studies`, sorted."""
    return sorted({s.modality.sop_class for s in studies})


# --- conversations ---------------------------------------------------------------------------


def echo(rng: random.Random, requestor: Ae, acceptor: Ae) -> list[Turn]:
    """A C-ECHO association (a modality or monitoring checking the PACS is up)."""
    a = Association(rng, requestor, acceptor, contexts_for([VERIFICATION]))
    a.echo()
    return a.release()


def store(
    rng: random.Random,
    modality: Ae,
    pacs: Ae,
    studies: Sequence[Study],
    *,
    syntaxes: Sequence[str] = SYNTAXES,
) -> list[Turn]:
    """A modality (or any sender) storing every image of `studies` to `pacs`."""
    a = Association(rng, modality, pacs, contexts_for(storage_classes(studies), syntaxes))
    a.store(studies)
    return a.release()


def find(
    rng: random.Random,
    requestor: Ae,
    archive: Ae,
    level: str,
    keys: Mapping[str, str],
    matches: Sequence[Patient] | Sequence[Study],
) -> list[Turn]:
    """One C-FIND at `level` ("PATIENT": Patient Root model; "STUDY": Study Root) with its
    matches, then release. {"PatientName": "*", "PatientID": "*"} at PATIENT level with a
    few hundred patients is the insider's "list every patient"."""
    model = PATIENT_ROOT_FIND if level == "PATIENT" else STUDY_ROOT_FIND
    a = Association(rng, requestor, archive, contexts_for([model]))
    a.find(level, keys, matches)
    return a.release()


def get(rng: random.Random, requestor: Ae, archive: Ae, studies: Sequence[Study]) -> list[Turn]:
    """C-GET of `studies`: the images come back on the same association (the requestor
    negotiates the SCP role for their storage classes)."""
    classes = storage_classes(studies)
    cxs = contexts_for([STUDY_ROOT_GET, *classes])
    a = Association(rng, requestor, archive, cxs, scp_roles=tuple(classes))
    a.get(studies)
    return a.release()


def reject(
    rng: random.Random,
    requestor: Ae,
    acceptor: Ae,
    abstract_syntaxes: Sequence[str] = (VERIFICATION,),
    *,
    result: int = 1,
    source: int = 1,
    reason: int = 3,
) -> list[Turn]:
    """An association the acceptor rejects (default: permanent, calling AE title not
    recognised — what an AE-title guesser gets)."""
    rq = pdu.associate_rq(requestor, acceptor.title, tuple(contexts_for(abstract_syntaxes)))
    rj = pdu.associate_rj(result, source, reason)
    return [Turn(CLIENT, rq), Turn(SERVER, rj, rng.uniform(0.5, 3) / 1000)]


@dataclass(frozen=True, slots=True)
class Retrieve:
    """A C-MOVE: the requestor's association with the archive (`control`), and per moved
    study the archive's association to the destination (`transfers`: (start offset in
    seconds from the control conversation's start, turns))."""

    control: list[Turn]
    transfers: list[tuple[float, list[Turn]]]


def duration(turns: Sequence[Turn]) -> float:
    """A conversation's estimated length: think times, half a round trip per turn, bytes at
    `LINK_BYTES_S` (slower than the trace's link, so estimates err late)."""
    return sum(t.delay_s + RTT_S / 2 + len(t.data) / LINK_BYTES_S for t in turns)


def move(
    rng: random.Random,
    requestor: Ae,
    archive: Ae,
    destination: Ae,
    studies: Sequence[Study],
    *,
    known_destination: bool = True,
    sink: Callable[[float, list[Turn]], None] | None = None,
) -> Retrieve:
    """One STUDY-level C-MOVE per study to `destination`. The archive opens an association to
    the destination per C-MOVE and C-STOREs the study's images there (MoveOriginator set),
    sending the requestor a pending C-MOVE-RSP about every tenth sub-operation and the
    final counts, each timed after the sub-operations it reports (by `duration`).
    `known_destination=False`: every C-MOVE is refused with "move destination unknown"
    (0xA801) and nothing is sent. `sink(start, turns)`: each transfer is handed over as soon
    as it is built instead of being kept in `Retrieve.transfers` (left empty), so a caller
    tracing them holds one study's images at a time."""
    ctl = Association(rng, requestor, archive, contexts_for([STUDY_ROOT_MOVE]))
    transfers: list[tuple[float, list[Turn]]] = []
    now = duration(ctl.turns)  # estimated time on the control association
    delay = rng.uniform(0.01, 0.2)
    for study in studies:
        mid = ctl.retrieve_request("C-MOVE", study, destination.title, delay)
        now += duration(ctl.turns[-1:])
        if not known_destination:
            ctl.retrieve_response("C-MOVE", mid, pdu.MOVE_DESTINATION_UNKNOWN, 0, 0, 0.005)
            now += duration(ctl.turns[-1:])
            delay = rng.uniform(0.01, 0.2)
            continue
        start = now + rng.uniform(0.002, 0.01)
        tx = Association(rng, archive, destination, contexts_for([study.modality.sop_class]))
        tx_now = start + duration(tx.turns)
        total = study.images
        every = max(1, total // 10)
        for done, (sop, inst, data) in enumerate(_images(rng, [study], tx.context), 1):
            k = len(tx.turns)
            tx.store_one(sop, inst, data, move_originator=(requestor.title, mid))
            tx_now += duration(tx.turns[k:])
            if done % every == 0 and done < total:
                wait = max(tx_now - now, 0.0002)
                ctl.retrieve_response("C-MOVE", mid, PENDING, total - done, done, wait)
                now += duration(ctl.turns[-1:])
        k = len(tx.turns)
        if sink is None:
            transfers.append((start, tx.release()))
        else:
            sink(start, tx.release())
        tx_now += duration(tx.turns[k:])
        wait = max(tx_now - now, 0.0) + rng.uniform(0.001, 0.005)
        ctl.retrieve_response("C-MOVE", mid, SUCCESS, 0, total, wait)
        now += duration(ctl.turns[-1:])
        delay = rng.uniform(0.01, 0.2)
    return Retrieve(ctl.release(), transfers)
