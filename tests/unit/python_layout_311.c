/* CPython 3.11's own answer to the offsets table (its internal headers are C
 * only): compiled into the unit tests when python3.11-dev is installed, see
 * python_layout_test.cpp. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>

#include <stddef.h>

#include "fdwatch_abi.h"

_Static_assert(PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION == 11, "the 3.11 headers");
_Static_assert(sizeof(_Py_CODEUNIT) == 2, "lasti counts 2-byte code units");

struct fdw_py_proc fdw_py311_from_headers(void)
{
	struct fdw_py_proc k = {
		.runtime_interp_head = offsetof(_PyRuntimeState, interpreters.head),
		.interp_next = offsetof(PyInterpreterState, next),
		.interp_threads_head = offsetof(PyInterpreterState, threads.head),
		.tstate_next = offsetof(PyThreadState, next),
		.tstate_native_tid = offsetof(PyThreadState, native_thread_id),
		.tstate_cframe = offsetof(PyThreadState, cframe),
		.cframe_current_frame = offsetof(_PyCFrame, current_frame),
		.frame_code = offsetof(_PyInterpreterFrame, f_code),
		.frame_previous = offsetof(_PyInterpreterFrame, previous),
		.frame_prev_instr = offsetof(_PyInterpreterFrame, prev_instr),
		.frame_is_entry = offsetof(_PyInterpreterFrame, is_entry),
		.code_adaptive = offsetof(PyCodeObject, co_code_adaptive),
		.code_filename = offsetof(PyCodeObject, co_filename),
		.code_qualname = offsetof(PyCodeObject, co_qualname),
		.code_linetable = offsetof(PyCodeObject, co_linetable),
		.code_firstlineno = offsetof(PyCodeObject, co_firstlineno),
		.str_length = offsetof(PyASCIIObject, length),
		.str_state = offsetof(PyASCIIObject, state),
		.str_ascii_data = sizeof(PyASCIIObject),
		.str_compact_data = sizeof(PyCompactUnicodeObject),
		.bytes_size = offsetof(PyVarObject, ob_size),
		.bytes_data = offsetof(PyBytesObject, ob_sval),
	};
	return k;
}
