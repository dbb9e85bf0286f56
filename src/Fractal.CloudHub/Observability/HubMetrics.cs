using Prometheus;

namespace Fractal.CloudHub.Observability;

/// <summary>
/// The hub's Prometheus counters, exported at <c>/metrics</c>. They live in prometheus-net's
/// process-wide default registry, so several hubs in one process (tests) share them.
/// </summary>
internal static class HubMetrics
{
    public static readonly Counter RecordsAccepted = Metrics.CreateCounter(
        "fractal_hub_records_accepted_total", "Records newly written to the data lake.");

    public static readonly Counter RecordsDuplicate = Metrics.CreateCounter(
        "fractal_hub_records_duplicate_total", "Records dropped because the lake already had them (at-least-once redelivery).");

    public static readonly Counter LossEntries = Metrics.CreateCounter(
        "fractal_hub_loss_entries_total", "Loss-ledger entries newly recorded.");

    public static readonly Counter LostRecords = Metrics.CreateCounter(
        "fractal_hub_lost_records_total", "Records that nodes reported lost (evicted or expired), from newly recorded ledger entries.");

    public static readonly Counter BatchesAccepted = Metrics.CreateCounter(
        "fractal_hub_batches_accepted_total", "Record batches appended to the lake and acknowledged.");

    public static readonly Counter BatchesRejected = Metrics.CreateCounter(
        "fractal_hub_batches_rejected_total", "Ingest requests rejected as invalid.", new CounterConfiguration { LabelNames = ["rpc"] });

    /// <summary>
    /// Touches every series so /metrics shows them at zero from the start (Prometheus rate()
    /// needs the zero sample; static fields are otherwise created on first use).
    /// </summary>
    public static void Publish()
    {
        RecordsAccepted.Publish();
        RecordsDuplicate.Publish();
        LossEntries.Publish();
        LostRecords.Publish();
        BatchesAccepted.Publish();
        BatchesRejected.WithLabels("Upload").Publish();
        BatchesRejected.WithLabels("ReportLosses").Publish();
    }
}
