#ifndef SPECTOP_CNCURSES_SHIM_H
#define SPECTOP_CNCURSES_SHIM_H
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#define NCURSES_WIDECHAR 1
#include <ncurses.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>

// Swift 6 strict concurrency rejects mutable C globals such as LINES, COLS,
// COLORS and stdscr; these accessors read them on the UI thread.
static inline int spectop_lines(void) { return LINES; }
static inline int spectop_cols(void) { return COLS; }
static inline int spectop_colors(void) { return COLORS; }
static inline int spectop_color_pairs(void) { return COLOR_PAIRS; }
static inline WINDOW *spectop_stdscr(void) { return stdscr; }
static inline int spectop_key_resize(void) { return KEY_RESIZE; }

// Attribute and colour-pair macros expand to casts and shifts that Swift
// cannot import; these return their values.
static inline attr_t spectop_attr_normal(void) { return A_NORMAL; }
static inline attr_t spectop_attr_bold(void) { return A_BOLD; }
static inline attr_t spectop_attr_dim(void) { return A_DIM; }
static inline attr_t spectop_attr_reverse(void) { return A_REVERSE; }
static inline attr_t spectop_attr_underline(void) { return A_UNDERLINE; }

// Function-key codes reported by wget_wch with KEY_CODE_YES.
static inline int spectop_key_code_yes(void) { return KEY_CODE_YES; }
static inline int spectop_key_up(void) { return KEY_UP; }
static inline int spectop_key_down(void) { return KEY_DOWN; }
static inline int spectop_key_left(void) { return KEY_LEFT; }
static inline int spectop_key_right(void) { return KEY_RIGHT; }
static inline int spectop_key_home(void) { return KEY_HOME; }
static inline int spectop_key_end(void) { return KEY_END; }
// Inside tmux/screen with TERM=xterm*, Home and End arrive as the xterm
// "Find" and "Select" keys (\E[1~ and \E[4~).
static inline int spectop_key_find(void) { return KEY_FIND; }
static inline int spectop_key_select(void) { return KEY_SELECT; }
static inline int spectop_key_npage(void) { return KEY_NPAGE; }
static inline int spectop_key_ppage(void) { return KEY_PPAGE; }
static inline int spectop_key_enter(void) { return KEY_ENTER; }
static inline int spectop_key_btab(void) { return KEY_BTAB; }
static inline int spectop_key_backspace(void) { return KEY_BACKSPACE; }

// Mouse: KEY_MOUSE, the event, and the button masks (macros Swift cannot import).
static inline int spectop_key_mouse(void) { return KEY_MOUSE; }
/// Asks for clicks, double clicks and the wheel; returns nonzero when the terminal reports them.
static inline int spectop_enable_mouse(void) {
    mmask_t wanted = BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED;
    mouseinterval(300);
    return mousemask(wanted, NULL) != 0;
}
static inline void spectop_disable_mouse(void) { mousemask(0, NULL); }
/// The pending mouse event: 1 click, 2 double click, 4 wheel up, 5 wheel down, 0 other, -1 none.
static inline int spectop_read_mouse(int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return -1;
    *x = event.x; *y = event.y;
    if (event.bstate & BUTTON1_DOUBLE_CLICKED) return 2;
    if (event.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) return 1;
    if (event.bstate & BUTTON4_PRESSED) return 4;
#ifdef BUTTON5_PRESSED
    if (event.bstate & BUTTON5_PRESSED) return 5;
#endif
    return 0;
}

/// Starts curses on the process's own terminal; NULL (not exit) on failure,
/// unlike initscr, so the caller can report the error.
static inline SCREEN *spectop_newterm(void) { return newterm(NULL, stdout, stdin); }
#include <term.h>
/// 1 when terminfo describes `term`; 0 when it does not, -1 when there is no
/// terminfo database, as setupterm reports it. Leaves curses state untouched.
static inline int spectop_terminfo_knows(const char *term) {
    int status = 0;
    TERMINAL *previous = cur_term;
    if (setupterm((char *)term, -1, &status) != OK) return status == 1 ? 1 : status;
    del_curterm(cur_term);
    set_curterm(previous);
    return 1;
}
/// A terminfo string capability ("rmcup", "cnorm", "sgr0"), NULL when the
/// terminal has none (tigetstr's (char *)-1 and NULL both become NULL).
static inline const char *spectop_terminfo_string(const char *name) {
    char *value = tigetstr(name);
    return value == (char *)-1 ? NULL : value;
}
/// Makes the next refresh repaint the whole screen (after resize or resume).
static inline int spectop_clear(void) { return wclear(stdscr); }

/// Sets the attributes and colour pair for the following writes to stdscr.
static inline int spectop_set_style(attr_t attrs, short pair) { return wattr_set(stdscr, attrs, pair, NULL); }
/// Writes `n` wide characters at (y, x) of stdscr without moving other state.
static inline int spectop_put_wide(int y, int x, const wchar_t *text, int n) { return mvwaddnwstr(stdscr, y, x, text, n); }
/// Reads one key or character from stdscr; returns OK, KEY_CODE_YES or ERR.
static inline int spectop_get_wide(wint_t *out) { return wget_wch(stdscr, out); }
/// Waits at most `ms` milliseconds in spectop_get_wide (negative: block).
static inline void spectop_input_timeout(int ms) { wtimeout(stdscr, ms); }

// A pseudo-terminal master of `rows`x`cols` for the output benchmark; the
// slave's path goes to `name`. Returns the master fd, or -1. Linux devpts
// through ioctls only: posix_openpt/ptsname need feature macros this module
// cannot set, and ioctl is variadic, out of Swift's reach.
static inline int spectop_open_pty(unsigned short rows, unsigned short cols, char *name, size_t length) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (master < 0) return -1;
    int unlock = 0;
    unsigned int number = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0 || ioctl(master, TIOCGPTN, &number) != 0) { close(master); return -1; }
    if (snprintf(name, length, "/dev/pts/%u", number) >= (int)length) { close(master); return -1; }
    struct winsize size = { rows, cols, 0, 0 };
    ioctl(master, TIOCSWINSZ, &size);
    return master;
}
#endif
