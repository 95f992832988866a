#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every source file the project ships or runs carries the MIT SPDX line in its
# header, as LICENSE at the root says. Lists the files that lack it (within
# their first 5 lines) and fails if there is any, so a new file without it
# cannot land unnoticed.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
while IFS= read -r -d '' file; do
    if ! head -n 5 -- "$file" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "missing SPDX line: $file"
        missing=$((missing + 1))
    fi
done < <(git ls-files -z -- '*.swift' '*.c' '*.h' '*.el' '*.py' '*.sh' '*.fish' '*.bash' '*.zsh' \
            'Makefile' '*/Makefile' '*.1' '*.mk' '.ci/run' 'scripts/test' 'completions/*')
if [ "$missing" -ne 0 ]; then
    echo "$missing file(s) without 'SPDX-License-Identifier: MIT'"
    exit 1
fi
echo "every source file carries the MIT SPDX line"
