package testinfra

import "syscall"

// sysProcAttr makes the kernel kill the child when the test binary dies
// (for example on a -timeout panic), so servers never outlive the test run.
// Pdeathsig fires when the thread that started the child exits; Go only ends
// threads that a goroutine locked and never unlocked, which tests don't do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
