/// The built-in presets: the text of `examples/<name>.toml`, embedded so the
/// installed binary needs no files. A test checks the two never drift apart.
/// Regenerate with scripts/make_presets_source.py after editing an example.
public enum Presets {
    public static let defaultName = "reach"
    public static let names = ["reach", "digits", "lazy-rich", "tiny"]

    public static func text(_ name: String) -> String? {
        switch name {
        case "reach": return reach
        case "digits": return digits
        case "lazy-rich": return lazyrich
        case "tiny": return tiny
        default: return nil
        }
    }

    static let reach = """
        # reach — the paper's experiment in miniature (the default preset).
        # Four sizes spanning three decades of parameter count, each trained twice on
        # the same teacher data from the same initial weights: once with every layer
        # learning (active) and once with frozen features (only the readout learns).
        # Watch: chi_pos falls as learning moves into the spectral tail; frozen models
        # keep chi_net constant and stall; active models raise chi_net and keep going.
        name = "reach"
        description = "the paper in miniature: 4 sizes x active/frozen on a power-law teacher"
        seed = 1

        [data]
        kind = "teacher"
        samples = 8192
        input_dim = 16
        outputs = 1
        exponent = 1.5
        input_exponent = 1.0
        features = 256
        noise = 0.0

        [models]
        widths = [8, 32, 128, 512]
        depth = 2
        activation = "tanh"
        parameterization = "standard"
        modes = ["active", "frozen"]

        [training]
        optimizer = "sgd"
        lr = 0.1
        momentum = 0.9
        batch = 64
        steps = 3000

        [metrics]
        every = 1
        probe = 256
        probe_source = "train"

        """

    static let digits = """
        # digits — the same comparison on real data: the bundled UCI handwritten
        # digits (8x8 images, 10 classes, CC BY 4.0), trained with cross-entropy.
        name = "digits"
        description = "real data: UCI handwritten digits, cross-entropy, 4 sizes x active/frozen"
        seed = 1

        [data]
        kind = "digits"

        [models]
        widths = [8, 32, 128, 512]
        depth = 2
        activation = "relu"
        parameterization = "standard"
        modes = ["active", "frozen"]

        [training]
        optimizer = "sgd"
        lr = 0.1
        momentum = 0.9
        batch = 64
        steps = 2000

        [metrics]
        every = 1
        probe = 128
        probe_source = "train"

        """

    static let lazyrich = """
        # lazy-rich — one size, from lazy (kernel-like) to rich (feature learning).
        # The output scale alpha multiplies the readout; the learning rate is divided
        # by alpha^2 so every model moves its output at the same speed. Large alpha:
        # the network barely moves its features (lazy, chi_net constant like a frozen
        # model); small alpha: features must move to fit (rich, chi_net grows).
        name = "lazy-rich"
        description = "one width, output scale from lazy (alpha=10) to rich (alpha=0.1)"
        seed = 1

        [data]
        kind = "teacher"
        samples = 4096
        input_dim = 16

        [models]
        widths = [256]
        depth = 2
        activation = "tanh"
        parameterization = "ntk"
        output_scale = [0.1, 1.0, 10.0]
        modes = ["active"]

        [training]
        optimizer = "sgd"
        lr = 1.0
        lr_output_scaling = true
        batch = 64
        steps = 2000

        [metrics]
        every = 1
        probe = 128

        """

    static let tiny = """
        # tiny — seconds long, for smoke tests and slow machines.
        name = "tiny"
        description = "seconds-long smoke test: 2 small sizes x active/frozen"
        seed = 1

        [data]
        kind = "teacher"
        samples = 512
        input_dim = 8

        [models]
        widths = [8, 32]
        depth = 2
        activation = "tanh"
        modes = ["active", "frozen"]

        [training]
        optimizer = "sgd"
        lr = 0.1
        momentum = 0.9
        batch = 32
        steps = 200

        [metrics]
        every = 1
        probe = 64

        """

}
