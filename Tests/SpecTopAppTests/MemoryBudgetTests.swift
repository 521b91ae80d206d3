import XCTest
@testable import SpecTopApp
@testable import SpecTopReaders
import SpectralCore

/// The refusal of a run that cannot fit states its size the way a person
/// would read it: "about 3.1 GiB", or "more than 1000 TiB" for a saturated
/// estimate (a top_k or probe in the billions), never "about more than".
final class MemoryBudgetTests: XCTestCase {
    private func refusal(_ estimate: MemoryEstimate, available: Int) -> String {
        do {
            try MemoryBudget.check(estimate, available: available)
            return "(accepted)"
        } catch {
            return "\(error)"
        }
    }

    func testTheRefusalSaysAboutForAnEstimateAndMoreThanForASaturatedOne() {
        let sized = refusal(MemoryEstimate(models: 3 << 30, spectra: 0, data: 0), available: 1 << 30)
        XCTAssertTrue(sized.contains("this run needs about 3.1 GiB of memory"), sized)
        let saturated = refusal(MemoryEstimate(models: Int.max, spectra: 1 << 20, data: 1 << 20), available: 1 << 30)
        XCTAssertTrue(saturated.contains("this run needs more than 1000 TiB of memory"), saturated)
        XCTAssertFalse(saturated.contains("about more than"), saturated)
        XCTAssertEqual(refusal(MemoryEstimate(models: 1 << 20, spectra: 0, data: 0), available: 1 << 30), "(accepted)")
    }
}
