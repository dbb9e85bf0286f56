using Fractal.CloudHub;

return await FractalHubApplication.RunAsync(args).ConfigureAwait(false);
