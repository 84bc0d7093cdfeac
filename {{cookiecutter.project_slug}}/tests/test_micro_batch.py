"""Micro-batching: concurrent ``/predict`` requests share model calls, and nothing else."""

import asyncio
from typing import Any

import httpx
import numpy.typing as npt
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.io.registry import open_registry
from {{ cookiecutter.package_name }}.model import LoadedModel, Prediction
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.serving.micro_batch import MicroBatcher

from .helpers import Record, metric_value

Matrix = npt.NDArray[Any]


@pytest.fixture(scope="module")
def model(served_settings: Settings) -> LoadedModel:
    """The session's promoted v1, loaded as the API loads it."""
    return open_registry(served_settings).load_champion()


@pytest.fixture(scope="module")
def rows(model: LoadedModel, features: pd.DataFrame) -> list[Matrix]:
    """Eight one-row model inputs: real rows of the dataset, each a request's matrix."""
    matrix = model.metadata.feature_schema.to_matrix(features.head(8), "test")
    return [matrix[i : i + 1] for i in range(len(matrix))]


def score_together(
    batcher: MicroBatcher, requests: list[tuple[LoadedModel, Matrix]]
) -> list[list[Prediction] | BaseException]:
    """Send every request to the batcher at once, as concurrent handlers do."""

    async def run() -> list[list[Prediction] | BaseException]:
        calls = (batcher.predict(model, matrix) for model, matrix in requests)
        return await asyncio.gather(*calls, return_exceptions=True)

    return asyncio.run(run())


def assert_same(shared: Prediction, alone: Prediction) -> None:
    """The same prediction, up to rounding: a shared call's arithmetic may differ in a last bit."""
{%- if cookiecutter.__task == "classification" %}
    assert shared.prediction == alone.prediction
    assert shared.probabilities == pytest.approx(alone.probabilities)
{%- else %}
    assert shared.prediction == pytest.approx(alone.prediction)
{%- endif %}


def test_requests_waiting_together_share_one_call_and_get_their_own_rows(
    model: LoadedModel, rows: list[Matrix]
) -> None:
    calls: list[int] = []
    answers = score_together(MicroBatcher(32, calls.append), [(model, row) for row in rows])
    assert calls == [len(rows)]
    for row, answer in zip(rows, answers, strict=True):
        [alone] = model.predict_matrix(row)
        assert isinstance(answer, list)
        [together] = answer
        assert_same(together, alone)


def test_a_call_holds_at_most_max_rows_and_never_splits_a_request(
    model: LoadedModel, rows: list[Matrix]
) -> None:
    calls: list[int] = []
    sizes = [1, 2, 3, 1, 1]
    requests = [(model, rows[0].repeat(size, axis=0)) for size in sizes]
    answers = score_together(MicroBatcher(4, calls.append), requests)
    assert calls == [3, 4, 1]  # 1+2 | 3+1 | 1
    assert [len(answer) for answer in answers if isinstance(answer, list)] == sizes
    too_big = [(model, rows[0].repeat(5, axis=0))]
    assert score_together(MicroBatcher(4, calls.append), too_big) and calls[-1] == 5


def test_a_record_the_model_cannot_score_fails_only_its_own_request(
    model: LoadedModel, rows: list[Matrix]
) -> None:
    numeric = model.metadata.feature_schema.positions("numeric")[0]
    unscorable = rows[1].copy()
    unscorable[0, numeric] = "not a number"  # the contract refuses it; the model too
    calls: list[int] = []
    requests = [(model, rows[0]), (model, unscorable), (model, rows[2])]
    good, bad, other = score_together(MicroBatcher(32, calls.append), requests)
    assert isinstance(bad, DataError)
    assert isinstance(good, list) and isinstance(other, list)
    assert calls == [1, 1]  # the shared call failed; each was then scored alone


def test_requests_for_different_model_versions_never_share_a_call(
    model: LoadedModel, rows: list[Matrix]
) -> None:
    swapped_in = LoadedModel(model.metadata.model_copy(update={"version": "v2"}), model.pipeline)
    calls: list[int] = []
    versions = [model, swapped_in, swapped_in, model]
    score_together(MicroBatcher(32, calls.append), list(zip(versions, rows, strict=False)))
    assert calls == [1, 2, 1]


def test_a_request_cancelled_while_waiting_is_not_scored(
    model: LoadedModel, rows: list[Matrix]
) -> None:
    calls: list[int] = []
    batcher = MicroBatcher(32, calls.append)

    async def run() -> list[Prediction]:
        gone = asyncio.create_task(batcher.predict(model, rows[0]))
        waiting = asyncio.create_task(batcher.predict(model, rows[1]))
        await asyncio.sleep(0)  # both wait for the call
        gone.cancel()  # its client went away
        return await waiting

    assert len(asyncio.run(run())) == 1
    assert calls == [1]


def test_concurrent_predict_requests_share_calls_and_answer_as_one_by_one(
    served_settings: Settings, record: Record, numeric_feature: str
) -> None:
    records = [{**record, numeric_feature: float(value)} for value in range(8)]
    app = create_app(served_settings)

    async def run() -> tuple[list[httpx.Response], list[httpx.Response], str]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                posts = (client.post("/predict", json={"features": r}) for r in records)
                together = await asyncio.gather(*posts)
                one_by_one = [await client.post("/predict", json={"features": r}) for r in records]
                return together, one_by_one, (await client.get("/metrics")).text

    together, one_by_one, metrics = asyncio.run(run())
    assert [response.status_code for response in together] == [200] * len(records)
    assert len({response.json()["request_id"] for response in together}) == len(records)
    for shared, alone in zip(together, one_by_one, strict=True):
        assert_same(Prediction(**shared.json()), Prediction(**alone.json()))
    assert metric_value(metrics, "predict_micro_batch_rows_sum") == 2 * len(records)
    calls = metric_value(metrics, "predict_micro_batch_rows_count")
    assert calls < 2 * len(records)  # the concurrent eight shared calls
