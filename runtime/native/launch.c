/* The steady-state call of a JIT-compiled CPU kernel, as one C method.
 *
 * Why: at small shapes the kernel runs for well under a microsecond and everything around it is
 * the cost. Through ctypes a call wrote the buffer addresses into a ctypes array (~0.3 us), went
 * through a Python frame that took and returned a slot set, and made a ctypes foreign call
 * (~0.5 us). Here `Launcher.run(addresses)` writes the addresses into slot arrays built on the C
 * stack and calls the kernel's packed entry (or hands the chunks to the task pool), and
 * `Launcher.call(args, out)` does the whole call of the common torch case: each argument's
 * address, the outputs from their allocators, the kernel, the outputs returned.
 *
 * A kernel's packed entry is `void fn(void **slots)` (MLIR's packed interface of
 * `@<kernel>_tasks(args..., lo, hi)`), slot i pointing at argument i's value. Every call builds
 * its own slot arrays, so concurrent calls share nothing but the read-only task bounds; a kernel
 * with a combine step gets a workspace (its last argument) of its own per call in flight.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void (*packed_fn)(void *slots);
typedef void (*pool_run_fn)(packed_fn fn, void *const *chunks, int n, int threads);

#define STACK_SLOTS 1024      /* pointer slots kept on the stack; larger calls use the heap */
#define MAX_OUTPUTS 16

typedef struct {
    PyObject_HEAD
    packed_fn fn;             /* @<kernel>_tasks, packed */
    packed_fn combine;        /* @<kernel>_combine, packed, or NULL */
    pool_run_fn pool_run;     /* gf_pool_run of the task pool, or NULL (chunks run on the caller) */
    int nargs;                /* buffer arguments, the workspace included */
    int nchunks;
    int threads;
    int64_t *bounds;          /* [lo, hi) of each chunk */
    Py_ssize_t workspace_bytes;
    void *workspace;          /* one cached workspace, taken by one call at a time */
    atomic_int workspace_busy;
    PyObject *makers;         /* tuple of no-argument output allocators (for call), or NULL */
    PyObject *data_ptr;       /* callable(x) -> address (torch.Tensor.data_ptr) */
    PyObject *fallback;       /* callable(args, out): every call `call` does not take itself */
} Launcher;

/* The fallback is usually a bound method of the object that holds this launcher's `call`: a
   cycle, so the type takes part in the garbage collector. */
static int launcher_traverse(Launcher *self, visitproc visit, void *arg) {
    Py_VISIT(self->makers);
    Py_VISIT(self->data_ptr);
    Py_VISIT(self->fallback);
    return 0;
}

static int launcher_clear(Launcher *self) {
    Py_CLEAR(self->makers);
    Py_CLEAR(self->data_ptr);
    Py_CLEAR(self->fallback);
    return 0;
}

static void launcher_dealloc(Launcher *self) {
    PyObject_GC_UnTrack(self);
    launcher_clear(self);
    free(self->bounds);
    free(self->workspace);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int launcher_init(Launcher *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"entry", "nargs", "ranges", "threads", "pool_run", "combine",
                            "workspace_bytes", NULL};
    unsigned long long entry, pool_run = 0, combine = 0;
    int nargs, threads;
    PyObject *ranges;
    Py_ssize_t ws = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "KiOi|KKn", names, &entry, &nargs, &ranges, &threads,
                                     &pool_run, &combine, &ws))
        return -1;
    PyObject *seq = PySequence_Fast(ranges, "ranges must be a sequence of (lo, hi)");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || nargs < 0 || n * (nargs + 2) > 1 << 24) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "a launcher needs at least one chunk and a sane argument count");
        return -1;
    }
    free(self->bounds);
    self->bounds = malloc(sizeof(int64_t) * 2 * (size_t)n);
    if (!self->bounds) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long lo, hi;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "LL", &lo, &hi)) {
            Py_DECREF(seq);
            return -1;
        }
        self->bounds[2 * i] = lo;
        self->bounds[2 * i + 1] = hi;
    }
    Py_DECREF(seq);
    self->fn = (packed_fn)(uintptr_t)entry;
    self->combine = (packed_fn)(uintptr_t)combine;
    self->pool_run = (pool_run_fn)(uintptr_t)pool_run;
    self->nargs = nargs;
    self->nchunks = (int)n;
    self->threads = threads < 1 ? 1 : threads;
    self->workspace_bytes = ws;
    return 0;
}

/* Run the kernel on `values` (nargs addresses; the workspace slot is filled here). */
static int launch(Launcher *self, void **values) {
    int nargs = self->nargs, n = self->nchunks, stride = nargs + 2;
    void *stack[STACK_SLOTS];
    size_t need = (size_t)n * (size_t)(stride + 1);
    void **slots = need <= STACK_SLOTS ? stack : malloc(sizeof(void *) * need);
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    void *space = NULL;
    int own_space = 0;
    if (self->workspace_bytes) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&self->workspace_busy, &expected, 1)) {
            if (!self->workspace)
                self->workspace = aligned_alloc(64, ((size_t)self->workspace_bytes + 63) / 64 * 64);
            space = self->workspace;
            if (!space)
                atomic_store(&self->workspace_busy, 0);
        }
        if (!space) {           /* another call in flight holds the cached one */
            space = aligned_alloc(64, ((size_t)self->workspace_bytes + 63) / 64 * 64);
            own_space = 1;
        }
        if (!space) {
            if (slots != stack)
                free(slots);
            PyErr_NoMemory();
            return -1;
        }
        values[nargs - 1] = space;
    }
    void **chunks = slots + (size_t)n * stride;
    for (int c = 0; c < n; c++) {
        void **packed = slots + (size_t)c * stride;
        for (int i = 0; i < nargs; i++)
            packed[i] = &values[i];
        packed[nargs] = &self->bounds[2 * c];
        packed[nargs + 1] = &self->bounds[2 * c + 1];
        chunks[c] = packed;
    }
    Py_BEGIN_ALLOW_THREADS
    if (self->threads > 1 && n > 1 && self->pool_run)
        self->pool_run(self->fn, (void *const *)chunks, n, self->threads);
    else
        for (int c = 0; c < n; c++)
            self->fn(chunks[c]);
    if (self->combine)
        self->combine(chunks[0]);   /* its packed arguments are the first nargs slots of a chunk */
    Py_END_ALLOW_THREADS
    if (own_space)
        free(space);
    else if (space)
        atomic_store(&self->workspace_busy, 0);
    if (slots != stack)
        free(slots);
    return 0;
}

static int address_of(PyObject *v, void **out) {
    *out = PyLong_AsVoidPtr(v);
    return (*out == NULL && PyErr_Occurred()) ? -1 : 0;
}

/* run(addresses): inputs then outputs (without the workspace), as a list or tuple of ints. */
static PyObject *launcher_run(Launcher *self, PyObject *addresses) {
    PyObject *seq = PySequence_Fast(addresses, "addresses must be a list or tuple of ints");
    if (!seq)
        return NULL;
    Py_ssize_t given = PySequence_Fast_GET_SIZE(seq);
    Py_ssize_t want = self->nargs - (self->workspace_bytes ? 1 : 0);
    if (given != want) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "the kernel takes %zd buffer addresses, got %zd", want, given);
    }
    void *small[64];
    void **values = self->nargs <= 64 ? small : malloc(sizeof(void *) * (size_t)self->nargs);
    if (!values) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    int rc = 0;
    for (Py_ssize_t i = 0; i < given && rc == 0; i++)
        rc = address_of(items[i], &values[i]);
    Py_DECREF(seq);
    if (rc == 0)
        rc = launch(self, values);
    if (values != small)
        free(values);
    if (rc)
        return NULL;
    Py_RETURN_NONE;
}

/* call(args, out): the whole steady-state call of torch tensors already checked by the caller's
   guard. Each argument's address through `data_ptr`, each output from its allocator; anything
   else (an `out=`, a launcher without allocators) goes to `fallback(args, out)`. */
static PyObject *launcher_call(Launcher *self, PyObject *const *argv, Py_ssize_t argc) {
    if (argc != 2)
        return PyErr_Format(PyExc_TypeError, "call(args, out) takes 2 arguments, got %zd", argc);
    PyObject *args = argv[0], *out = argv[1];
    Py_ssize_t nouts = self->makers ? PyTuple_GET_SIZE(self->makers) : 0;
    Py_ssize_t nin = PyTuple_Check(args) ? PyTuple_GET_SIZE(args) : -1;
    Py_ssize_t want = self->nargs - (self->workspace_bytes ? 1 : 0);
    if (out != Py_None || !self->makers || nin < 0 || nin + nouts != want || nouts > MAX_OUTPUTS
        || self->nargs > 64) {
        if (!self->fallback)
            return PyErr_Format(PyExc_TypeError, "this launcher has no fallback for that call");
        return PyObject_CallFunctionObjArgs(self->fallback, args, out, NULL);
    }
    void *values[64];
    PyObject *outs[MAX_OUTPUTS];
    for (Py_ssize_t i = 0; i < nin; i++) {
        PyObject *p = PyObject_CallOneArg(self->data_ptr, PyTuple_GET_ITEM(args, i));
        if (!p || address_of(p, &values[i]) < 0) {
            Py_XDECREF(p);
            return NULL;
        }
        Py_DECREF(p);
    }
    Py_ssize_t made = 0;
    for (; made < nouts; made++) {
        PyObject *o = PyObject_CallNoArgs(PyTuple_GET_ITEM(self->makers, made));
        if (!o)
            goto fail;
        outs[made] = o;
        PyObject *p = PyObject_CallOneArg(self->data_ptr, o);
        if (!p || address_of(p, &values[nin + made]) < 0) {
            Py_XDECREF(p);
            made++;
            goto fail;
        }
        Py_DECREF(p);
    }
    if (launch(self, values) < 0)
        goto fail;
    if (nouts == 1)
        return outs[0];
    PyObject *result = PyTuple_New(nouts);
    if (!result)
        goto fail;
    for (Py_ssize_t i = 0; i < nouts; i++)
        PyTuple_SET_ITEM(result, i, outs[i]);     /* steals the reference */
    return result;
fail:
    for (Py_ssize_t i = 0; i < made; i++)
        Py_DECREF(outs[i]);
    return NULL;
}

/* bind(makers, data_ptr, fallback): what `call` needs; makers None: every call goes to fallback. */
static PyObject *launcher_bind(Launcher *self, PyObject *args) {
    PyObject *makers, *data_ptr, *fallback;
    if (!PyArg_ParseTuple(args, "OOO", &makers, &data_ptr, &fallback))
        return NULL;
    if (makers != Py_None && !PyTuple_Check(makers))
        return PyErr_Format(PyExc_TypeError, "makers must be a tuple or None");
    Py_XSETREF(self->makers, makers == Py_None ? NULL : Py_NewRef(makers));
    Py_XSETREF(self->data_ptr, Py_NewRef(data_ptr));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_RETURN_NONE;
}

static PyObject *launcher_get_threads(Launcher *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->threads);
}

static PyObject *launcher_get_chunks(Launcher *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->nchunks);
}

static PyMethodDef launcher_methods[] = {
    {"run", (PyCFunction)launcher_run, METH_O, "run(addresses): inputs then outputs"},
    {"call", (PyCFunction)(void (*)(void))launcher_call, METH_FASTCALL,
     "call(args, out): allocate the outputs, run, return them (torch tensors checked by the caller)"},
    {"bind", (PyCFunction)launcher_bind, METH_VARARGS, "bind(makers, data_ptr, fallback)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef launcher_getset[] = {
    {"threads", (getter)launcher_get_threads, NULL, "threads a call runs on", NULL},
    {"chunks", (getter)launcher_get_chunks, NULL, "chunks of tasks per call", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LauncherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "girflow.runtime.native._launch.Launcher",
    .tp_basicsize = sizeof(Launcher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)launcher_traverse,
    .tp_clear = (inquiry)launcher_clear,
    .tp_doc = "Launcher(entry, nargs, ranges, threads, pool_run=0, combine=0, workspace_bytes=0)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)launcher_init,
    .tp_dealloc = (destructor)launcher_dealloc,
    .tp_methods = launcher_methods,
    .tp_getset = launcher_getset,
};

static struct PyModuleDef launch_module = {
    PyModuleDef_HEAD_INIT, "_launch", "Native steady-state calls of JIT-compiled CPU kernels.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__launch(void) {
    if (PyType_Ready(&LauncherType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&launch_module);
    if (!m)
        return NULL;
    Py_INCREF(&LauncherType);
    if (PyModule_AddObject(m, "Launcher", (PyObject *)&LauncherType) < 0) {
        Py_DECREF(&LauncherType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
