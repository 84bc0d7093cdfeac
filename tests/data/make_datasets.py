"""Write the template's synthetic CSV datasets; every value is made up by a seeded generator.

- churn.csv (telecom churn, classification): ``churned`` is drawn from a logistic model of the
  contract, tenure, support calls, plan, monthly charges (above the plan's usual price),
  paperless billing and region.
- sample_regression.csv (house prices, regression): ``price`` (thousands) grows with floor area
  and the neighbourhood's price per m2, varies by property type, garden, age and distance to the
  centre, times multiplicative noise.
- user_loans.csv (a learner's own table, a test fixture): ``loan status`` is drawn from a logistic
  model of the credit score, loan amount relative to income, employment type, home ownership and
  cosigner; ``notes`` is random text with no signal.

Cells are blanked at random (missing completely at random) after the target is drawn; targets and
IDs are never blank. Only ``random.Random(seed)`` is used, so the output is identical on every run:

    python3 tests/data/make_datasets.py
"""

import csv
import math
import random
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHURN_CSV = Path(
    "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/datasets/churn.csv"
)
REGRESSION_CSV = Path("{{cookiecutter.project_slug}}/data/sample_regression.csv")
LOANS_CSV = Path("tests/data/user_loans.csv")

Rows = list[list[str]]


def blank(rng: random.Random, value: str, share: float) -> str:
    """``value``, or an empty cell with probability ``share``."""
    return "" if rng.random() < share else value


def bernoulli_logit(rng: random.Random, logit: float) -> bool:
    """True with probability sigmoid(logit)."""
    return rng.random() < 1 / (1 + math.exp(-logit))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method; lam is small here)."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def clamp(x: float, low: float, high: float) -> float:
    return max(low, min(high, x))


def churn(rng: random.Random, n: int = 2000) -> tuple[list[str], Rows]:
    """Telecom customers: month-to-month, short tenure, many support calls, basic plan churn."""
    header = [
        "customer id", "signup date", "plan", "region", "contract", "tenure months",
        "monthly charges", "support calls", "paperless billing", "churned",
    ]  # fmt: skip
    # name: (mean monthly charge, sd, support-call rate, churn effect)
    plans = {
        "basic": (35, 6, 1.9, 0.4),
        "standard": (62, 8, 1.3, 0.0),
        "premium": (92, 10, 0.9, -0.4),
    }
    regions = {"north": 0.0, "south": 0.3, "east": -0.1, "west": 0.1, "central": -0.3}
    # name: (tenure skew, churn effect)
    contracts = {"month-to-month": (1.8, 1.0), "one year": (1.0, -0.4), "two year": (0.6, -1.4)}
    reference = date(2025, 1, 15)
    rows = []
    for i in range(1, n + 1):
        plan = rng.choices(list(plans), weights=[50, 30, 20])[0]
        region = rng.choices(list(regions), weights=[22, 20, 19, 18, 21])[0]
        contract = rng.choices(list(contracts), weights=[55, 25, 20])[0]
        tenure_shape, contract_effect = contracts[contract]
        tenure = int(clamp(1 + 72 * rng.random() ** tenure_shape, 1, 72))
        # Signed up `tenure` months before the reference date, give or take two weeks.
        signup = reference - timedelta(days=round(tenure * 30.44 + rng.uniform(-14, 14)))
        signup = min(max(signup, date(2019, 1, 1)), date(2024, 12, 31))
        charge_mean, charge_sd, calls_rate, plan_effect = plans[plan]
        charges = max(15.0, rng.gauss(charge_mean, charge_sd))
        calls = min(10, poisson(rng, calls_rate))
        paperless = rng.random() < 0.6
        logit = (
            -1.9
            + contract_effect
            + plan_effect
            + regions[region]
            - 0.04 * (tenure - 24)
            + 0.45 * (calls - 1.5)
            + 0.06 * (charges - charge_mean)
            + 0.3 * paperless
        )
        churned = "yes" if bernoulli_logit(rng, logit) else "no"
        rows.append(
            [
                f"C-{i:06d}",
                signup.isoformat(),
                blank(rng, plan, 0.03),
                blank(rng, region, 0.04),
                contract,
                blank(rng, str(tenure), 0.05),
                f"{charges:.2f}",
                blank(rng, str(calls), 0.03),
                blank(rng, str(paperless), 0.02),
                churned,
            ]
        )
    return header, rows


def house_prices(rng: random.Random, n: int = 1500) -> tuple[list[str], Rows]:
    """House listings: price follows area, neighbourhood, type, distance, garden and age."""
    header = [
        "listing id", "neighbourhood", "property type", "floor area m2", "bedrooms",
        "year built", "has garden", "distance to centre km", "price",
    ]  # fmt: skip
    # name: (typical distance to the centre in km, price in thousands per m2)
    neighbourhoods = {
        "Old Town": (1.2, 5.0),
        "Harbourside": (2.5, 4.4),
        "Riverside": (4.0, 3.8),
        "Parkview": (6.0, 3.3),
        "Northgate": (8.5, 2.8),
        "Millbrook": (12.0, 2.4),
    }
    # name: (mean floor area, sd, share with a garden, price multiplier)
    types = {
        "flat": (68, 20, 0.15, 0.95),
        "townhouse": (105, 25, 0.6, 1.0),
        "house": (145, 40, 0.85, 1.1),
    }
    rows = []
    for i in range(n):
        hood = rng.choices(list(neighbourhoods), weights=[12, 16, 20, 20, 18, 14])[0]
        kind = rng.choices(list(types), weights=[45, 20, 35])[0]
        typical_km, per_m2 = neighbourhoods[hood]
        area_mean, area_sd, garden_share, type_mult = types[kind]
        area = max(22.0, rng.gauss(area_mean, area_sd))
        bedrooms = int(clamp(round(area / 32 + rng.gauss(0, 0.6)), 1, 6))
        year = int(clamp(1900 + 124 * rng.random() ** (0.6 if kind == "flat" else 0.9), 1900, 2023))
        garden = rng.random() < garden_share
        distance = max(0.2, typical_km * math.exp(rng.gauss(0, 0.35)))
        age_mult = 1.08 if year >= 2010 else (1.05 if year < 1930 else 1.0)
        price = (
            area * per_m2 * type_mult * age_mult * math.exp(-0.025 * distance)
            + 20 * garden
            + 8 * bedrooms
        ) * math.exp(rng.gauss(0, 0.1))
        rows.append(
            [
                str(100001 + i),
                blank(rng, hood, 0.03),
                kind,
                blank(rng, f"{area:.1f}", 0.04),
                str(bedrooms),
                blank(rng, str(year), 0.02),
                str(garden),
                f"{distance:.2f}",
                f"{price:.1f}",
            ]
        )
    return header, rows


def user_loans(rng: random.Random, n: int = 1200) -> tuple[list[str], Rows]:
    """Loan applications: a low credit score, a large loan for the income, no job default."""
    header = [
        "Application ID", "employment type", "home ownership", "annual income", "loan amount",
        "credit score", "has cosigner", "notes", "loan status",
    ]  # fmt: skip
    # name: (median income, income spread, credit-score shift, default effect)
    employment = {
        "salaried": (48000, 0.35, 10, 0.0),
        "self-employed": (52000, 0.6, 0, 0.4),
        "contractor": (45000, 0.45, -5, 0.5),
        "unemployed": (13000, 0.4, -45, 1.3),
    }
    ownership = {"rent": 0.25, "mortgage": 0.0, "own": -0.4}
    openers = ["Applicant", "Customer", "Borrower", "Client", "Caller", "Co-applicant"]
    actions = ["asked about", "wants", "called regarding", "emailed about", "mentioned", "queried"]
    topics = [
        "early repayment", "a lower rate", "the payment date", "a longer term", "the fees",
        "a payment holiday", "debt consolidation", "a car purchase", "home repairs", "a wedding",
        "school fees", "a medical bill",
    ]  # fmt: skip
    endings = [
        "", " last week", " twice", " by phone", " in branch", " after hours", " again",
        " on Monday", " on Friday", " via the app",
    ]  # fmt: skip
    rows = []
    for i in range(1, n + 1):
        job = rng.choices(list(employment), weights=[55, 18, 17, 10])[0]
        home = rng.choices(list(ownership), weights=[40, 40, 20])[0]
        median_income, spread, score_shift, job_effect = employment[job]
        income = median_income * math.exp(rng.gauss(0, spread))
        loan = round(15000 * (income / 45000) ** 0.4 * math.exp(rng.gauss(0, 0.55)) / 50) * 50
        loan = max(1000, loan)
        score = int(clamp(round(rng.gauss(670 + score_shift, 70)), 300, 850))
        cosigner = rng.random() < 0.15
        note = f"{rng.choice(openers)} {rng.choice(actions)} {rng.choice(topics)}"
        note += f"{rng.choice(endings)}; ref {rng.randint(100, 999)}."
        logit = (
            -2.0
            - 0.012 * (score - 670)
            + 2.2 * (loan / income - 0.35)
            + job_effect
            + ownership[home]
            - 0.8 * cosigner
        )
        status = "defaulted" if bernoulli_logit(rng, logit) else "repaid"
        rows.append(
            [
                f"APP-2024-{i:05d}",
                blank(rng, job, 0.03),
                home,
                blank(rng, f"{income:.2f}", 0.05),
                f"{loan:.2f}",
                blank(rng, str(score), 0.03),
                str(cosigner),
                blank(rng, note, 0.3),
                status,
            ]
        )
    return header, rows


def write_csv(path: Path, header: list[str], rows: Rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(out_root: Path = REPO_ROOT) -> list[Path]:
    """Write the three CSVs under ``out_root`` (the repository root by default)."""
    tables = [
        (CHURN_CSV, churn(random.Random(20240101))),  # noqa: S311 - synthetic data, not security
        (REGRESSION_CSV, house_prices(random.Random(20240102))),  # noqa: S311
        (LOANS_CSV, user_loans(random.Random(20240103))),  # noqa: S311
    ]
    written = []
    for relative, (header, rows) in tables:
        write_csv(out_root / relative, header, rows)
        written.append(out_root / relative)
    return written


if __name__ == "__main__":
    for path in main():
        print(path)
