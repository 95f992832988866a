/* SPDX-License-Identifier: MIT
 * jobrun.exe CMDLINE... - runs CMDLINE in a job object that does not allow
 * breaking away and kills everything in it when closed (as a CI runner's
 * job does), with this process's stdio; exits with its exit code, or 120
 * when it cannot be started. */
#include <windows.h>
#include <stdio.h>
#include "cmdline.h"

int wmain(void) {
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits = {0};
    HANDLE job = CreateJobObjectW(NULL, NULL);
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!job || !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits)) return 120;
    if (!CreateProcessW(NULL, skip_argv0(GetCommandLineW()), NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi))
        return 120;
    if (!AssignProcessToJobObject(job, pi.hProcess)) { TerminateProcess(pi.hProcess, 120); return 120; }
    ResumeThread(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 120;
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
