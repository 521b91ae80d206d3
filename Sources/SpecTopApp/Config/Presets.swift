import SpecTopReaders
/// The built-in presets: the text of `examples/<name>.toml`, embedded so the
/// installed binary needs no files. A test checks the two never drift apart.
/// Regenerate with scripts/make_presets_source.py after editing an example.
package enum Presets {
    package static let defaultName = "reach"
    package static let names = ["reach", "digits", "lazy-rich", "tiny"]

    package static func text(_ name: String) -> String? {
        switch name {
        case "reach": return reach
        case "digits": return digits
        case "lazy-rich": return lazyrich
        case "tiny": return tiny
        default: return nil
        }
    }

    package static let reach = """
        # reach — the paper in miniature (the default preset).
        # Four sizes spanning three decades of parameter count, each trained twice from
        # the same initial weights: once with every layer learning (active) and once
        # with frozen features (only the readout learns, a random-features model).
        # The 256 training samples are also the probe set, and every step uses all of
        # them (full-batch Adam, one learning rate for every size), so chi_pos is
        # measured on exactly the loss the models descend. The teacher's flat spectrum
        # (exponent 0.5) keeps even the smallest model learning until the end.
        # Watch: frozen models keep chi_net constant and their loss flattens early;
        # active models raise chi_net 2-8x and keep going; chi_pos falls 20-600x, and
        # the larger the model the further it gets (docs/CLAIMS-STUDY.md).
        # About 32 s of CPU time on 2 cores; `--steps 600` is a 20-second version.
        name = "reach"
        description = "the paper in miniature: 4 sizes x active/frozen, full-batch Adam on a power-law teacher"
        seed = 1

        [data]
        kind = "teacher"
        samples = 256
        input_dim = 16
        outputs = 1
        exponent = 0.5
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
        optimizer = "adam"
        lr = 0.0003
        batch = 256
        steps = 1000

        [metrics]
        every = 4
        spectrum_every = 20
        probe = 256
        probe_source = "train"

        """

    package static let digits = """
        # digits — the same comparison on real data: the bundled UCI handwritten
        # digits (8x8 images, 10 classes, CC BY 4.0), trained with cross-entropy.
        # Four sizes x active/frozen, Adam with one learning rate for every size, in
        # minibatches of 64 of the 1797 images; the probe is 128 training images.
        # Watch: frozen models (random features) keep chi_net constant and their loss
        # stays high; active models raise chi_net 40-130x and each size step reaches a
        # 5-15x lower loss; chi_pos falls 3-8x for every active model. The probe is a
        # small sample of the training set, so the lowest chi_pos is a sampling floor
        # and does not rank the sizes (docs/CLAIMS-STUDY.md).
        # About 43 s of CPU time on 2 cores; `--steps 300` takes about 26 s.
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
        optimizer = "adam"
        lr = 0.002
        batch = 64
        steps = 500

        [metrics]
        every = 2
        spectrum_every = 50
        probe = 128
        probe_source = "train"

        """

    package static let lazyrich = """
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

    package static let tiny = """
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
