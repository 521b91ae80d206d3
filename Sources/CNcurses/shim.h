#ifndef SPECTOP_CNCURSES_SHIM_H
#define SPECTOP_CNCURSES_SHIM_H
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#define NCURSES_WIDECHAR 1
#include <ncurses.h>
#include <locale.h>
#include <langinfo.h>

// Swift 6 strict concurrency rejects mutable C globals such as LINES, COLS,
// COLORS and stdscr; these accessors read them on the UI thread.
static inline int spectop_lines(void) { return LINES; }
static inline int spectop_cols(void) { return COLS; }
static inline int spectop_colors(void) { return COLORS; }
static inline int spectop_color_pairs(void) { return COLOR_PAIRS; }
static inline WINDOW *spectop_stdscr(void) { return stdscr; }
static inline int spectop_key_resize(void) { return KEY_RESIZE; }
#endif
