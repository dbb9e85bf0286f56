using System.Globalization;
using System.Threading.Channels;
using Fractal.Learning.Training;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Training;

/// <summary>
/// One worker over a bounded queue. The worker trains on a dedicated (long-running) thread so
/// the thread pool stays free for inference requests, with ONNX Runtime limited to
/// <see cref="InferenceOptions.TrainingIntraOpThreads"/>.
/// </summary>
internal sealed class TrainingJobRunner : BackgroundService, ITrainingJobRunner
{
    private readonly InferenceOptions _options;
    private readonly ILogger<TrainingJobRunner> _logger;
    private readonly Channel<Job> _queue;
    private long _nextId;

    public TrainingJobRunner(IOptions<InferenceOptions> options, ILogger<TrainingJobRunner> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(_options.MaxQueuedTrainingJobs)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    public async Task<TrainingJobResult> RunAsync(TrainingJobRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        var id = string.Create(CultureInfo.InvariantCulture, $"train-{Interlocked.Increment(ref _nextId)}");
        var job = new Job(id, request, cancellationToken);
        await _queue.Writer.WriteAsync(job, cancellationToken);

        // A job cancelled while queued completes at once; the worker skips it when it gets there.
        using var registration = cancellationToken.Register(() => job.Completion.TrySetCanceled(cancellationToken));
        return await job.Completion.Task;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (job.Completion.Task.IsCompleted)
                {
                    continue;
                }

                using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.CancellationToken, stoppingToken);
                await Task.Factory.StartNew(() => Train(job, linked.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Host shutdown.
        }
        finally
        {
            while (_queue.Reader.TryRead(out var left))
            {
                left.Completion.TrySetCanceled(stoppingToken);
            }
        }
    }

    private void Train(Job job, CancellationToken cancellationToken)
    {
        var r = job.Request;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            InferenceLog.TrainingStarted(_logger, job.Id, r.Count, r.Epochs, _options.TrainingIntraOpThreads);
            var trainerOptions = new LocalTrainerOptions
            {
                Optimizer = OptimizerKind.Sgd,
                LearningRate = r.LearningRate,
                Momentum = r.Momentum,
                WeightDecay = r.WeightDecay,
                ProximalMu = r.ProximalMu,
                IntraOpThreads = _options.TrainingIntraOpThreads,
            };
            using var trainer = new LocalTrainer(r.Spec, trainerOptions, r.InitialParameters);
            var report = trainer.TrainEpochs(r.Images, r.Labels, r.Count, r.Epochs, r.BatchSize, r.Seed, cancellationToken);
            var trained = trainer.GetParameters();
            HoldoutAccuracy? holdout = null;
            if (r.Holdout is { } h)
            {
                // Scored here, on the job's thread and thread budget, like the training itself.
                cancellationToken.ThrowIfCancellationRequested();
                holdout = new HoldoutAccuracy(
                    ModelEvaluator.Evaluate(r.Spec, r.InitialParameters, h.Images, h.Labels, h.Count, intraOpThreads: _options.TrainingIntraOpThreads),
                    ModelEvaluator.Evaluate(r.Spec, trained, h.Images, h.Labels, h.Count, intraOpThreads: _options.TrainingIntraOpThreads));
            }

            var result = new TrainingJobResult(job.Id, trained, report, r.Count) { Holdout = holdout };
            InferenceLog.TrainingFinished(_logger, job.Id, report.Steps, report.FinalLoss);
            job.Completion.TrySetResult(result);
        }
        catch (OperationCanceledException ex)
        {
            InferenceLog.TrainingCancelled(_logger, job.Id);
            job.Completion.TrySetCanceled(ex.CancellationToken);
        }
        catch (Exception ex)
        {
            // A failing job (bad data, ONNX Runtime error) fails its caller, never the worker.
            InferenceLog.TrainingFailed(_logger, ex, job.Id);
            job.Completion.TrySetException(ex);
        }
    }

    private void Validate(TrainingJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request.Spec);
        ArgumentNullException.ThrowIfNull(request.InitialParameters);
        ArgumentNullException.ThrowIfNull(request.Images);
        ArgumentNullException.ThrowIfNull(request.Labels);
        if (request.Count <= 0 || request.Count > _options.MaxTrainingSamples)
        {
            throw new ArgumentException(
                $"A training job holds 1..{_options.MaxTrainingSamples} samples ({InferenceOptions.SectionName}:{nameof(InferenceOptions.MaxTrainingSamples)}); this one has {request.Count}.",
                nameof(request));
        }

        if (request.Images.LongLength < (long)request.Count * request.Spec.InputSize || request.Labels.Length < request.Count)
        {
            throw new ArgumentException($"The job's arrays do not hold {request.Count} samples of {request.Spec.InputSize} values.", nameof(request));
        }

        if (request.Holdout is { } holdout)
        {
            ArgumentNullException.ThrowIfNull(holdout.Images);
            ArgumentNullException.ThrowIfNull(holdout.Labels);
            if (holdout.Count <= 0 || (long)holdout.Count + request.Count > _options.MaxTrainingSamples)
            {
                throw new ArgumentException(
                    $"A training job holds 1..{_options.MaxTrainingSamples} samples with its holdout ({InferenceOptions.SectionName}:{nameof(InferenceOptions.MaxTrainingSamples)}); this one has {request.Count} + {holdout.Count}.",
                    nameof(request));
            }

            if (holdout.Images.LongLength < (long)holdout.Count * request.Spec.InputSize || holdout.Labels.Length < holdout.Count)
            {
                throw new ArgumentException($"The holdout's arrays do not hold {holdout.Count} samples of {request.Spec.InputSize} values.", nameof(request));
            }
        }
    }

    private sealed class Job(string id, TrainingJobRequest request, CancellationToken cancellationToken)
    {
        public string Id { get; } = id;

        public TrainingJobRequest Request { get; } = request;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<TrainingJobResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
