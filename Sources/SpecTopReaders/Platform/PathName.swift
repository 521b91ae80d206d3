/// Path arithmetic on strings, for the few places spectop needs the folder a
/// file is in.
///
/// Not `NSString.deletingLastPathComponent`: on Linux's Foundation it traps
/// (SIGILL) on any one-character relative name, so `--out x` crashed before
/// writing anything.
package enum PathName {
    /// The folder part of `path`, as `dirname` would print it but empty for a
    /// bare name: `a/b` → `a`, `/x` → `/`, `x` → ``, `a//b/` → `a`.
    package static func directory(of path: String) -> String {
        var scalars = Array(path.unicodeScalars)
        // Trailing slashes name the same file (`a/b/` is `a/b`).
        while scalars.count > 1, scalars.last == "/" { scalars.removeLast() }
        guard let slash = scalars.lastIndex(of: "/") else { return "" }
        var end = slash
        while end > 0, scalars[end - 1] == "/" { end -= 1 }
        if end == 0 { return "/" }
        return String(String.UnicodeScalarView(scalars[..<end]))
    }

    /// The folder `path` is in, `.` for a bare name: where a new file at
    /// `path` would be created.
    package static func parent(of path: String) -> String {
        let directory = directory(of: path)
        return directory.isEmpty ? "." : directory
    }
}
