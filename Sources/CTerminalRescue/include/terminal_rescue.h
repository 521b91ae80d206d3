#ifndef SPECTOP_TERMINAL_RESCUE_H
#define SPECTOP_TERMINAL_RESCUE_H

// The last line of defence for the terminal: when spectop itself crashes
// (a trap, a segmentation fault), a handler written in C with only
// async-signal-safe calls puts the terminal back the way it was before curses
// took it over, prints one line, and lets the crash proceed. Swift code cannot
// safely run inside such a handler, so this lives in C.

/// Remembers the terminal modes of `tty_fd` now (before curses changes them).
void spectop_rescue_save_modes(int tty_fd);
/// From now on a crash writes `restore_sequence` (leave the alternate screen,
/// show the cursor, reset attributes) to `tty_fd` and restores the saved modes.
void spectop_rescue_arm(const char *restore_sequence, int tty_fd);
/// The terminal was restored normally: a crash no longer touches it.
void spectop_rescue_disarm(void);
/// Installs the crash handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and
/// SIGTRAP (replacing the Swift runtime's backtracer, which can wait for input
/// on a terminal). Each prints "spectop: internal error (SIG…)" and re-raises
/// the signal with its default action, so the exit status stays 128 + signal.
void spectop_rescue_install_crash_handlers(void);

#endif
