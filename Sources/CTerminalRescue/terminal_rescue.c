#include "terminal_rescue.h"

#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_modes;
static volatile sig_atomic_t have_saved_modes = 0;
static volatile sig_atomic_t armed = 0;
static int rescue_fd = -1;
static char restore_sequence[256];
static size_t restore_length = 0;
// Crash handlers run here, so a stack overflow can still restore the terminal.
static char alternate_stack[64 * 1024];

void spectop_rescue_save_modes(int tty_fd) {
    if (tcgetattr(tty_fd, &saved_modes) == 0) have_saved_modes = 1;
}

void spectop_rescue_arm(const char *sequence, int tty_fd) {
    size_t length = strlen(sequence);
    if (length >= sizeof restore_sequence) length = sizeof restore_sequence - 1;
    memcpy(restore_sequence, sequence, length);
    restore_sequence[length] = 0;
    restore_length = length;
    rescue_fd = tty_fd;
    armed = 1;
}

void spectop_rescue_disarm(void) { armed = 0; }

static void write_all(int fd, const char *text, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, text, length);
        if (written <= 0) return;
        text += written;
        length -= (size_t)written;
    }
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGTRAP: return "SIGTRAP";
    default: return "a fatal signal";
    }
}

static void crash_handler(int sig) {
    if (armed) {
        armed = 0;
        write_all(rescue_fd, restore_sequence, restore_length);
        write_all(rescue_fd, "\r\n", 2);
        if (have_saved_modes) tcsetattr(rescue_fd, TCSANOW, &saved_modes);
    }
    const char *name = signal_name(sig);
    write_all(STDERR_FILENO, "spectop: internal error (", 25);
    write_all(STDERR_FILENO, name, strlen(name));
    write_all(STDERR_FILENO, "); this is a bug in spectop, please report it with the command line\n", 68);
    // SA_RESETHAND put the default action back: re-raise to end as the crash would have.
    raise(sig);
}

void spectop_rescue_install_crash_handlers(void) {
    stack_t stack;
    stack.ss_sp = alternate_stack;
    stack.ss_size = sizeof alternate_stack;
    stack.ss_flags = 0;
    sigaltstack(&stack, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = crash_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
}
