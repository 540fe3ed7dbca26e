"""A Kubeflow Pipelines (KFP v2) pipeline: `assay evaluate` the predictions of a model (a Parquet file), then
`assay gate` the run against a baseline run document under a policy (both imported from their URIs). Each step is
a container component running the assay CLI in an image with assay installed; the gate's exit code (1 failed,
3 inconclusive) fails the pipeline run.

    pip install kfp
    python examples/kubeflow/pipeline.py              # writes assay_pipeline.yaml, to upload or run with kfp.Client
"""

# no `from __future__ import annotations`: kfp reads the annotations of the components as types
from kfp import compiler, dsl

IMAGE = "ghcr.io/example/assay:latest"  # an image with `pip install assay`


@dsl.container_component
def evaluate(predictions: dsl.Input[dsl.Dataset], label: str, score: str, model_name: str, model_version: str,
             run: dsl.Output[dsl.Artifact], report: dsl.Output[dsl.HTML]) -> dsl.ContainerSpec:
    """`assay evaluate`: the run document (JSON) and its HTML report."""
    return dsl.ContainerSpec(
        image=IMAGE,
        command=["assay"],
        args=["evaluate", predictions.path, "--format", "parquet", "--task", "binary",
              "--label", label, "--score", score,
              "--model-name", model_name, "--model-version", model_version,
              "--out", run.path, "--html", report.path, "--quiet"],
    )


@dsl.container_component
def gate(candidate: dsl.Input[dsl.Artifact], baseline: dsl.Input[dsl.Artifact], policy: dsl.Input[dsl.Artifact],
         summary: dsl.Output[dsl.Markdown], junit: dsl.Output[dsl.Artifact]) -> dsl.ContainerSpec:
    """`assay gate`: exits 0 only when every check of the policy passes."""
    return dsl.ContainerSpec(
        image=IMAGE,
        command=["assay"],
        args=["gate", candidate.path, "--baseline", baseline.path, "--policy", policy.path,
              "--markdown", summary.path, "--junit", junit.path],
    )


@dsl.pipeline(name="assay-evaluate-gate", description="Evaluate a model's predictions with assay, then gate them.")
def assay_pipeline(predictions: str = "gs://bucket/fraud/preds.parquet",
                   baseline: str = "gs://bucket/fraud/baseline.json",
                   policy: str = "gs://bucket/fraud/policy.yaml",
                   label: str = "is_fraud", score: str = "fraud_score",
                   model_name: str = "fraud", model_version: str = "7") -> None:
    # the importer makes each URI a local file in the step's container (the artifact's .path)
    data = dsl.importer(artifact_uri=predictions, artifact_class=dsl.Dataset, reimport=False)
    run = evaluate(predictions=data.output, label=label, score=score, model_name=model_name,
                   model_version=model_version)
    base = dsl.importer(artifact_uri=baseline, artifact_class=dsl.Artifact, reimport=False)
    rules = dsl.importer(artifact_uri=policy, artifact_class=dsl.Artifact, reimport=False)
    gate(candidate=run.outputs["run"], baseline=base.output, policy=rules.output)


if __name__ == "__main__":
    compiler.Compiler().compile(assay_pipeline, package_path="assay_pipeline.yaml")
