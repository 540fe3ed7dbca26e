"""An Airflow DAG: every day, evaluate the day's predictions (a folder of Parquet files, joined with their labels
upstream), gate the run against the promoted run under a policy, and promote it when the gate passes.

`assay gate` exits 1 when a check fails and 3 when it is inconclusive, so the BashOperator fails and `promote`
does not run. The run store (``--home``, SQLite) must be on storage every worker sees, as must ``DATA``; with
several DAGs writing one store, promote by run id instead of ``@latest:MODEL``.

Copy this file into the DAGs folder of an Airflow (2.x or 3.x) deployment whose workers have assay installed.
"""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.operators.bash import BashOperator

MODEL = "fraud"
DATA = "/data/fraud"       # predictions/day=YYYY-MM-DD/*.parquet, policy.yaml, the run store in runs/
RUNS = f"{DATA}/runs"
OUT = f"{DATA}/evaluations/{{{{ ds }}}}"  # one folder per logical date

with DAG(
    dag_id="assay_evaluate_gate_promote",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 12, 1, tz="UTC"),
    catchup=False,
    tags=["assay", MODEL],
) as dag:
    evaluate = BashOperator(
        task_id="evaluate",
        bash_command=(
            f"mkdir -p {OUT} && "
            f"assay evaluate '{DATA}/predictions/day={{{{ ds }}}}/' --task binary --label is_fraud "
            f"--score fraud_score --segment country --model-name {MODEL} --model-version '{{{{ params.version }}}}' "
            f"--dataset-name 'predictions {{{{ ds }}}}' --out {OUT}/run.json --html {OUT}/report.html --quiet"
        ),
        params={"version": "7"},
    )
    gate = BashOperator(
        task_id="gate",
        bash_command=(
            f"assay gate {OUT}/run.json --baseline @promoted:{MODEL} --home {RUNS} --policy {DATA}/policy.yaml "
            f"--markdown {OUT}/gate.md --junit {OUT}/gate.xml"
        ),
    )
    promote = BashOperator(
        task_id="promote",
        bash_command=(
            f"assay runs add {OUT}/run.json --home {RUNS} && "
            f"assay runs promote @latest:{MODEL} --home {RUNS} --note 'gated by Airflow run {{{{ run_id }}}}'"
        ),
    )

    evaluate >> gate >> promote
