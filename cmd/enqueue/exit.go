package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/store"
)

// Exit codes, the contract of scripts that run enqueue (see exitCodesHelp).
const (
	exitOK          = 0
	exitFailure     = 1 // a failed operation (and status --wait --exit-status on a job that ended badly)
	exitUsage       = 2 // a malformed command line or setting: unknown command, flag, job id
	exitNotFound    = 3 // the job does not exist (never created, or expired)
	exitUnreachable = 4 // Redis did not answer
	exitConflict    = 5 // send --id names a job that was created by a different request
)

// exitCodesHelp documents the exit codes for --help.
const exitCodesHelp = "Exit status:\n" +
	"  0  success\n" +
	"  1  the operation failed; status --wait --exit-status: the job ended failed or cancelled, or paused;\n" +
	"     status --wait --timeout: the time ran out\n" +
	"  2  bad usage: an unknown command, a malformed flag, argument, job id or setting\n" +
	"  3  the job was not found (never created, or expired after its retention)\n" +
	"  4  Redis is unreachable\n" +
	"  5  send --id names a job that was created by a different request (nothing sent)"

// usageError is a malformed flag, argument or setting: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// conflictError is a job id already used by a different request: exit status 5.
type conflictError struct{ err error }

func (e conflictError) Error() string { return e.err.Error() }
func (e conflictError) Unwrap() error { return e.err }

// unreachableError is a Redis that did not answer: exit status 4.
type unreachableError struct{ err error }

func (e unreachableError) Error() string { return e.err.Error() }
func (e unreachableError) Unwrap() error { return e.err }

// jobFailedError is status --wait --exit-status on a job that ended failed or cancelled, or
// paused: exit status 1, after the status was printed.
type jobFailedError struct{ err error }

func (e jobFailedError) Error() string { return e.err.Error() }
func (e jobFailedError) Unwrap() error { return e.err }

// notFoundError is a job id that names no job: exit status 3. It matches store.ErrNotFound.
type notFoundError struct{ id string }

func (e notFoundError) Error() string {
	return "job " + e.id + " not found (never created, or expired after its retention)"
}
func (e notFoundError) Unwrap() error { return store.ErrNotFound }

func notFound(id string) error { return notFoundError{id} }

// exitCode maps an error of a command to enqueue's exit status.
func exitCode(err error) int {
	var (
		ue usageError
		ce conflictError
		re unreachableError
		oe *net.OpError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitConflict
	case errors.Is(err, store.ErrNotFound):
		return exitNotFound
	case errors.As(err, &re), errors.As(err, &oe):
		// A dial refused or a connection lost after connecting, too (a *net.OpError).
		return exitUnreachable
	}
	return exitFailure
}

// rootArgs refuses an unknown command with a usage error (cobra's own error for it is untyped),
// suggesting the commands whose names are close.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}
