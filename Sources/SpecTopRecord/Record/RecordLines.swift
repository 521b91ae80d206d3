/// Encodes engine events as record lines: the writer's half of the record
/// schema (`RunRecord` is the reader's; the `run` header line is built by the
/// app, which knows the configuration, with `JSONLine`).
public enum RecordLines {
    public static func encode(_ event: EngineEvent) -> String {
        var json = JSONLine()
        switch event {
        case .metrics(let model, let sample):
            json.add("type", "step")
            json.add("model", model)
            json.add("step", sample.step)
            json.add("loss", sample.loss)
            json.add("chi_loss", sample.chiLoss)
            json.add("chi_net", sample.chiNet)
            json.add("chi_pos", sample.chiPos)
            json.add("grad_sq", sample.gradSq)
            json.add("wall", sample.wall)
            if sample.traceIsEstimate { json.add("chi_net_estimate", true) }
            if let error = sample.chiNetStandardError { json.add("chi_net_stderr", error) }
            json.add("layer_chi_net", numbers: sample.layerChiNet)
            json.add("layer_grad_sq", numbers: sample.layerGradSq)
            if sample.rows > 0 {
                json.add("rows", sample.rows)
                json.add("chi_loss_normalized", sample.normalizedChiLoss)
                json.add("chi_net_normalized", sample.normalizedChiNet)
            }
            if let window = sample.window { json.add("window", window) }
            if let cross = sample.cross {
                // All eight together (RECORD.md): B's size is always known to the writer.
                json.add("cross_loss", cross.loss)
                json.add("cross_grad_dot", cross.gradDot)
                json.add("cross_chi_loss", cross.chiLoss)
                json.add("cross_chi_net", cross.chiNet)
                json.add("cross_chi_pos", cross.chiPos)
                json.add("cross_rows", cross.rows)
                json.add("cross_chi_loss_normalized", cross.normalizedChiLoss(rowsA: sample.rows))
                json.add("cross_chi_net_normalized", cross.normalizedChiNet(rowsA: sample.rows))
                if sample.traceIsEstimate { json.add("cross_chi_net_estimate", true) }
            }
        case .spectrum(let model, let spectrum):
            json.add("type", "spectrum")
            json.add("model", model)
            json.add("step", spectrum.step)
            json.add("eigenvalues", numbers: spectrum.eigenvalues)
            json.add("weights", numbers: spectrum.weights)
            json.add("chi_pos_exact", spectrum.chiPosExact)
            json.add("lambda_eff", spectrum.lambdaEff)
            json.add("r_eff", spectrum.rEff)
            json.add("effective_rank", spectrum.effectiveRank)
            json.add("method", spectrum.method.rawValue)
            if spectrum.isEstimate { addEstimate(spectrum, to: &json) }
        case .event(let kind, let model, let step, let wall, let detail):
            json.add("type", "event")
            json.add("event", kind.name)
            if let model { json.add("model", model) }
            if let step { json.add("step", step) }
            json.add("wall", wall)
            if let detail { json.add("detail", detail) }
        }
        return json.line
    }

    /// The last line: why the run ended.
    /// A `usage` line: what the writing process costs the machine now.
    public static func usage(_ usage: ProcessUsage, wall: Double) -> String {
        var json = JSONLine()
        json.add("type", "usage")
        json.add("wall", wall)
        if usage.residentBytes > 0 { json.add("rss_bytes", usage.residentBytes) }
        if usage.cpuPercent.isFinite { json.add("cpu_percent", usage.cpuPercent) }
        if let seconds = usage.stepSeconds { json.add("step_seconds", seconds) }
        if let bytes = usage.gpuMemoryBytes { json.add("gpu_memory_bytes", bytes) }
        if let percent = usage.gpuUtilization { json.add("gpu_utilization", percent) }
        return json.line
    }

    public static func end(reason: String, wall: Double, detail: String? = nil) -> String {
        var json = JSONLine()
        json.add("type", "end")
        json.add("reason", reason)
        json.add("wall", wall)
        if let detail { json.add("detail", detail) }
        return json.line
    }

    /// A matrix-free spectrum's extra fields: its eigenvalues are the top k
    /// only, so the histogram cannot be rebuilt from them and travels as
    /// `density` (edges, estimated counts and their ~95% half-widths).
    private static func addEstimate(_ spectrum: SpectrumSample, to json: inout JSONLine) {
        json.add("mode_count", spectrum.modeCount)
        json.add("r_eff_uncertainty", spectrum.rEffUncertainty)
        json.add("rest_weight", spectrum.restWeight)
        let h = spectrum.histogram
        var density = JSONLine()
        density.add("log10_edges", numbers: h.log10Edges)
        density.add("counts", numbers: h.counts.map(Double.init))
        density.add("counts_uncertainty", numbers: h.countUncertainty)
        density.add("residual_weights", numbers: h.residualWeights)
        density.add("near_zero_count", h.nearZeroCount)
        density.add("near_zero_weight", h.nearZeroWeight)
        if let marker = h.markerBin { density.add("marker_bin", marker) }
        json.add("density", raw: density.line)
    }
}
