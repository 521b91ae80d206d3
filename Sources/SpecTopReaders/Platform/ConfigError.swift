/// A problem with an experiment file or a command-line value; the message
/// names the file, the line where known, the key and what was expected.
package struct ConfigError: Error, CustomStringConvertible, Equatable {
    package let description: String
    package init(_ description: String) { self.description = description }
}
