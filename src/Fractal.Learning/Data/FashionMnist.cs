namespace Fractal.Learning.Data;

/// <summary>Which half of Fashion-MNIST to load.</summary>
public enum DatasetSplit
{
    /// <summary>The 60,000 training images (train-*).</summary>
    Train,

    /// <summary>The 10,000 test images (t10k-*).</summary>
    Test,
}

/// <summary>
/// Loads Fashion-MNIST from IDX files, by default from Debian's dataset-fashion-mnist package.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Fashion-MNIST has ten classes (T-shirt/top ... ankle boot).</summary>
    public const int ClassCount = 10;

    /// <summary>Class names by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>True when the four files are present in <paramref name="directory"/>.</summary>
    public static bool IsAvailable(string directory = DefaultDirectory) =>
        File.Exists(ImagesPath(directory, DatasetSplit.Train)) && File.Exists(LabelsPath(directory, DatasetSplit.Train))
        && File.Exists(ImagesPath(directory, DatasetSplit.Test)) && File.Exists(LabelsPath(directory, DatasetSplit.Test));

    /// <summary>Loads one split, checking that images and labels agree.</summary>
    /// <exception cref="IdxFormatException">A file is malformed or the two files do not match.</exception>
    public static LabeledImageSet Load(DatasetSplit split, string directory = DefaultDirectory)
    {
        var imagesPath = ImagesPath(directory, split);
        var labelsPath = LabelsPath(directory, split);
        var images = IdxReader.Read(imagesPath);
        var labels = IdxReader.Read(labelsPath);

        if (images.DataType != IdxDataType.UnsignedByte || images.Dimensions.Count != 3)
        {
            throw new IdxFormatException(imagesPath, $"expected a 3-dimensional unsigned-byte image array, found {images.DataType} with {images.Dimensions.Count} dimensions");
        }

        if (labels.DataType != IdxDataType.UnsignedByte || labels.Dimensions.Count != 1)
        {
            throw new IdxFormatException(labelsPath, $"expected a 1-dimensional unsigned-byte label array, found {labels.DataType} with {labels.Dimensions.Count} dimensions");
        }

        if (images.Dimensions[0] != labels.Dimensions[0])
        {
            throw new IdxFormatException(labelsPath, $"holds {labels.Dimensions[0]} labels but '{imagesPath}' holds {images.Dimensions[0]} images");
        }

        var labelBytes = labels.GetBytes();
        for (var i = 0; i < labelBytes.Length; i++)
        {
            if (labelBytes[i] >= ClassCount)
            {
                throw new IdxFormatException(labelsPath, $"label {labelBytes[i]} at index {i} is not a Fashion-MNIST class (0..{ClassCount - 1})");
            }
        }

        return new LabeledImageSet(images.GetBytes(), labelBytes, images.Dimensions[1], images.Dimensions[2], ClassCount);
    }

    private static string ImagesPath(string directory, DatasetSplit split) =>
        Path.Combine(directory, $"{Prefix(split)}-images-idx3-ubyte.gz");

    private static string LabelsPath(string directory, DatasetSplit split) =>
        Path.Combine(directory, $"{Prefix(split)}-labels-idx1-ubyte.gz");

    private static string Prefix(DatasetSplit split) => split == DatasetSplit.Train ? "train" : "t10k";
}
