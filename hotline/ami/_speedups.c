/*
 * The two hottest steps of reading the AMI event stream, compiled.
 *
 * Each function here has a twin in Python, beside its one caller (frame_messages in
 * protocol.py, header_in_frame in message.py), that says the same thing and answers when this
 * module is not built; tests/ami/test_speedups.py holds them to the same answers on generated
 * input. Nothing here keeps state or touches the connection: both functions take bytes and
 * give back values, so a hostile peer can at worst make a message take the slow path.
 *
 *   frame_messages(buffer, message_type, max_length)
 *       The buffer's complete frames (cut on CRLF CRLF) as Message objects, in order, and
 *       the unfinished rest; a frame the fast path does not take (not UTF-8, over max_length,
 *       neither an event nor a response) is passed through as its bytes for the protocol's
 *       slow path. None when a line ends in a bare LF: the caller frames that buffer itself.
 *
 *   header_in_frame(frame, name)
 *       The value of header `name` read straight from a frame's bytes when it stands there
 *       exactly once in any spelling and not as the first line; None when only parsing can
 *       tell; NotImplemented when the bytes cannot answer for the text (see message.py).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_NAME 128

static inline char
ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Whether the n bytes at p, lowered as bytes.lower() does (ASCII only), equal lowered[0:n]. */
static inline int
lower_equals(const char *p, const char *lowered, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ascii_lower(p[i]) != lowered[i]) {
            return 0;
        }
    }
    return 1;
}

static int
is_ascii(const char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] >= 0x80) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
header_in_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "header_in_frame(frame, name) takes two arguments");
        return NULL;
    }
    PyObject *frame = args[0], *name = args[1];
    if (!PyBytes_Check(frame) || !PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "header_in_frame(frame, name) takes bytes and a str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(name) < 0) {
        return NULL;
    }
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (!PyUnicode_IS_ASCII(name) || n == 0 || n > MAX_NAME) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    const char *exact = (const char *)PyUnicode_DATA(name);
    char lowered[MAX_NAME];
    int has_k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = exact[i];
        if (c == '\r' || c == '\n' || c == ':') {
            Py_RETURN_NOTIMPLEMENTED;
        }
        lowered[i] = ascii_lower(c);
        has_k |= lowered[i] == 'k';
    }
    const char *data = PyBytes_AS_STRING(frame);
    Py_ssize_t size = PyBytes_GET_SIZE(frame);
    /* U+212A KELVIN SIGN lowers to "k" in text and not in bytes: only ASCII bytes answer. */
    if (has_k && !is_ascii(data, size)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    /* The first line has no CRLF before it: a header there is for parsing to merge. */
    if (size > n && data[n] == ':' && lower_equals(data, lowered, n)) {
        Py_RETURN_NONE;
    }
    const char *end = data + size;
    const char *p = data;
    const char *value = NULL;
    int seen = 0;
    while (end - p >= n + 3 && (p = memchr(p, '\r', (size_t)(end - p - n - 2))) != NULL) {
        /* p + n + 2 < end: room for CR LF, the name and its colon. */
        const char *q = p + 2;
        if (p[1] == '\n' && q[n] == ':' && lower_equals(q, lowered, n)) {
            if (++seen > 1) {
                Py_RETURN_NONE;
            }
            if (end - q > n + 1 && q[n + 1] == ' ' && memcmp(q, exact, (size_t)n) == 0) {
                value = q + n + 2;
            }
        }
        p++;
    }
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    const char *stop = value;
    while (stop < end) {
        stop = memchr(stop, '\r', (size_t)(end - stop));
        if (stop == NULL) {
            stop = end;
            break;
        }
        if (stop + 1 < end && stop[1] == '\n') {
            break;
        }
        stop++;
    }
    return PyUnicode_DecodeUTF8(value, stop - value, "strict");
}

/* One frame (data[0:size], not empty) as a message, or as its own bytes for the slow path. */
static PyObject *
frame_item(const char *data, Py_ssize_t size, PyObject *message_type, Py_ssize_t max_length)
{
    PyObject *frame = PyBytes_FromStringAndSize(data, size);
    if (frame == NULL) {
        return NULL;
    }
    int is_event = size >= 7 && memcmp(data, "Event: ", 7) == 0;
    int is_response = !is_event && size >= 10 && memcmp(data, "Response: ", 10) == 0;
    if (size > max_length || !(is_event || is_response)) {
        return frame;
    }
    PyObject *text = PyUnicode_DecodeUTF8(data, size, "strict");
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            Py_DECREF(frame);
            return NULL;
        }
        PyErr_Clear();
        return frame;
    }
    PyObject *event;
    if (is_event) {
        /* The name ends at the first CRLF, or with the frame. */
        const char *end = data + size, *stop = data + 7;
        while ((stop = memchr(stop, '\r', (size_t)(end - stop))) != NULL
               && !(stop + 1 < end && stop[1] == '\n')) {
            stop++;
        }
        if (stop == NULL) {
            stop = end;
        }
        event = PyUnicode_DecodeUTF8(data + 7, stop - (data + 7), "strict");
        if (event == NULL) {
            Py_DECREF(text);
            Py_DECREF(frame);
            return NULL;
        }
    }
    else {
        Py_INCREF(Py_None);
        event = Py_None;
    }
    PyObject *call_args[3] = {text, event, frame};
    PyObject *message = PyObject_Vectorcall(message_type, call_args, 3, NULL);
    Py_DECREF(text);
    Py_DECREF(event);
    Py_DECREF(frame);
    return message;
}

static PyObject *
frame_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "frame_messages(buffer, message_type, max_length) takes three arguments");
        return NULL;
    }
    PyObject *buffer = args[0], *message_type = args[1];
    if (!PyBytes_Check(buffer)) {
        PyErr_SetString(PyExc_TypeError, "frame_messages() takes bytes");
        return NULL;
    }
    Py_ssize_t max_length = PyLong_AsSsize_t(args[2]);
    if (max_length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    /* The buffer is held: the message type's constructor is Python and runs in between. */
    Py_INCREF(buffer);
    const char *data = PyBytes_AS_STRING(buffer);
    const char *end = data + PyBytes_GET_SIZE(buffer);
    PyObject *items = PyList_New(0);
    PyObject *result = NULL;
    if (items == NULL) {
        goto done;
    }
    /* Every LF: it must close a CRLF (else the caller frames the buffer the slow way); an LF
     * two bytes after the last one, with the CR between them past the frame's start, ends a
     * frame on CRLF CRLF, as bytes.split(b"\r\n\r\n") would cut it. */
    const char *start = data, *last_lf = NULL, *lf = data;
    while (lf < end && (lf = memchr(lf, '\n', (size_t)(end - lf))) != NULL) {
        if (lf == data || lf[-1] != '\r') {
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        if (last_lf == lf - 2 && lf - 3 >= start) {
            if (lf - 3 > start) {
                PyObject *item = frame_item(start, lf - 3 - start, message_type, max_length);
                if (item == NULL) {
                    goto done;
                }
                int appended = PyList_Append(items, item);
                Py_DECREF(item);
                if (appended < 0) {
                    goto done;
                }
            }
            start = lf + 1;
        }
        last_lf = lf;
        lf++;
    }
    PyObject *rest = PyBytes_FromStringAndSize(start, end - start);
    if (rest != NULL) {
        result = PyTuple_Pack(2, items, rest);
        Py_DECREF(rest);
    }

done:
    Py_XDECREF(items);
    Py_DECREF(buffer);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"header_in_frame", (PyCFunction)(void (*)(void))header_in_frame, METH_FASTCALL,
     "header_in_frame(frame, name): one header's value read from a frame's bytes, None when "
     "only parsing can tell, NotImplemented when the bytes cannot answer for the text."},
    {"frame_messages", (PyCFunction)(void (*)(void))frame_messages, METH_FASTCALL,
     "frame_messages(buffer, message_type, max_length): (the buffer's complete frames as "
     "messages, or as bytes for the slow path; the rest), or None for bare LF line endings."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hotline.ami._speedups",
    .m_doc = "The AMI reader's two hottest steps, compiled; twins in hotline.ami.protocol and hotline.ami.message.",
    .m_size = 0,
    .m_methods = speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
