import XCTest
import Foundation
import TestSupport
@testable import SpecTopApp
@testable import SpecTopReaders
import SpecTopRecord

final class BLASCoreSelectionTests: XCTestCase {
    let sapphire: Set<String> = ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "amx_tile", "avx512_fp16"]

    func testGenericCoreOnModernCPUsRequestsTheMatchingKernels() {
        let decide = { (core: String, flags: Set<String>, amd: Bool, env: [String: String]) in
            BLASCoreSelection.coreToRequest(currentCore: core, cpuFlags: flags, vendorIsAMD: amd, environment: env)
        }
        XCTAssertEqual(decide("Prescott", sapphire, false, [:]), "SapphireRapids")
        XCTAssertEqual(decide("Prescott", sapphire.subtracting(["amx_tile", "avx512_fp16"]), false, [:]), "Cooperlake")
        XCTAssertEqual(decide("Prescott", ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"], false, [:]), "SkylakeX")
        XCTAssertEqual(decide("Prescott", ["avx", "avx2", "fma"], false, [:]), "Haswell")
        XCTAssertEqual(decide("Prescott", ["avx", "avx2", "fma"], true, [:]), "Zen")
        XCTAssertEqual(decide("Nehalem", ["avx"], false, [:]), "Sandybridge")
        XCTAssertNil(decide("Prescott", ["sse2"], false, [:]), "nothing better to ask for")
    }

    func testRecognisedCoresUserSettingsAndTheGuardAreLeftAlone() {
        XCTAssertNil(BLASCoreSelection.coreToRequest(currentCore: "Cooperlake", cpuFlags: sapphire, vendorIsAMD: false, environment: [:]))
        XCTAssertNil(BLASCoreSelection.coreToRequest(currentCore: "Zen", cpuFlags: ["avx2", "fma"], vendorIsAMD: true, environment: [:]))
        XCTAssertNil(BLASCoreSelection.coreToRequest(currentCore: "Prescott", cpuFlags: sapphire, vendorIsAMD: false,
                                                     environment: ["OPENBLAS_CORETYPE": "Prescott"]), "an explicit user setting wins")
        XCTAssertNil(BLASCoreSelection.coreToRequest(currentCore: "Prescott", cpuFlags: sapphire, vendorIsAMD: false,
                                                     environment: [BLASCoreSelection.guardVariable: "Prescott"]), "no second re-exec")
    }

    func testThreadTimeoutIsRequestedUnlessTheUserSetItOrThisIsTheReexecutedProcess() {
        XCTAssertEqual(BLASCoreSelection.threadTimeoutToRequest(environment: [:]), "20")
        XCTAssertEqual(BLASCoreSelection.threadTimeoutToRequest(environment: ["OPENBLAS_THREAD_TIMEOUT": ""]), "20")
        XCTAssertNil(BLASCoreSelection.threadTimeoutToRequest(environment: ["OPENBLAS_THREAD_TIMEOUT": "28"]), "an explicit user setting wins")
        XCTAssertNil(BLASCoreSelection.threadTimeoutToRequest(environment: [BLASCoreSelection.guardVariable: "Zen"]), "no second re-exec")
    }

    func testCPUInfoParsing() {
        let text = "processor : 0\nvendor_id : AuthenticAMD\nflags : fpu sse2 avx avx2 fma\n\nprocessor : 1\nflags : other\n"
        let (flags, amd) = BLASCoreSelection.cpuFeatures(cpuinfo: text)
        XCTAssertTrue(amd)
        XCTAssertEqual(flags, ["fpu", "sse2", "avx", "avx2", "fma"])
    }
}
