"""Micro-batching: the ``/predict`` requests waiting at the same time share model calls.

A scikit-learn pipeline spends about as long on 32 rows as on one: most of a call is
checking and dispatching, not arithmetic (``make bench`` shows the effect). So under load,
scoring each request with a call of its own spends the event loop on overhead. The batcher
lets the requests gather instead: it scores the waiting requests once a turn of the event
loop has brought no new one (or ``APP_MICRO_BATCH_MAX_ROWS`` rows are waiting), in calls of
at most that many rows.

- There is no timer: a request that arrives alone waits two turns of an idle loop
  (microseconds), so latency at low load does not change.
- Under load, the requests that arrived while the loop was busy go together: with 8 clients
  each waiting for its answer, the calls hold about 8 rows.
- Each request gets its own rows of the result, and keeps its own validation, log rows and
  metrics. A record the model cannot score fails only its own request.
- Requests served by different model versions (a reload in between) never share a call.
"""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.model import LoadedModel, Prediction


@dataclass(frozen=True)
class _Waiting:
    """A request's records, the model it was served, and where its predictions go."""

    model: LoadedModel
    matrix: npt.NDArray[Any]
    answer: "asyncio.Future[list[Prediction]]"


class MicroBatcher:
    """Scores the records of concurrent requests together, on the event loop."""

    def __init__(self, max_rows: int, observe_rows: Callable[[int], None]) -> None:
        """Score at most ``max_rows`` rows per call; ``observe_rows`` gets each call's rows."""
        self._max_rows = max_rows
        self._observe_rows = observe_rows
        self._waiting: list[_Waiting] = []
        self._rows_waiting = 0

    async def predict(self, model: LoadedModel, matrix: npt.NDArray[Any]) -> list[Prediction]:
        """The predictions of ``matrix``'s rows, scored with the requests waiting alongside.

        Raises :class:`DataError` if the model cannot score one of these rows.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Prediction]] = loop.create_future()
        if not self._waiting:  # the first to wait: score them all once no more arrive
            loop.call_soon(self._score_when_settled, loop, 0)
        self._waiting.append(_Waiting(model, matrix, answer))
        self._rows_waiting += len(matrix)
        return await answer

    def _score_when_settled(self, loop: asyncio.AbstractEventLoop, seen: int) -> None:
        """Score the waiting requests, unless more arrived since the last turn (``seen``)."""
        if seen < len(self._waiting) and self._rows_waiting < self._max_rows:
            loop.call_soon(self._score_when_settled, loop, len(self._waiting))
            return
        waiting, self._waiting, self._rows_waiting = self._waiting, [], 0
        for group in _calls(waiting, self._max_rows):
            self._score(group)

    def _score(self, group: list[_Waiting]) -> None:
        group = [request for request in group if not request.answer.done()]  # not cancelled
        if not group:
            return
        try:
            predictions = group[0].model.predict_matrix(
                np.concatenate([request.matrix for request in group]), source="request"
            )
        except DataError as exc:
            if len(group) == 1:
                group[0].answer.set_exception(exc)
            else:  # find the request whose records the model refuses: each on its own
                for request in group:
                    self._score([request])
            return
        except Exception as exc:  # each request answers 500, as it would scored alone
            for request in group:
                request.answer.set_exception(exc)
            return
        self._observe_rows(len(predictions))
        start = 0
        for request in group:
            end = start + len(request.matrix)
            request.answer.set_result(predictions[start:end])
            start = end


def _calls(waiting: list[_Waiting], max_rows: int) -> Iterator[list[_Waiting]]:
    """Split the waiting requests into model calls: one model each, at most ``max_rows`` rows.

    A request is never split, so a call can exceed ``max_rows`` only by a request alone.
    """
    group: list[_Waiting] = []
    rows = 0
    for request in waiting:
        if group and (request.model is not group[0].model or rows + len(request.matrix) > max_rows):
            yield group
            group, rows = [], 0
        group.append(request)
        rows += len(request.matrix)
    if group:
        yield group
