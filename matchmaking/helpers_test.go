package matchmaking_test

import (
	"cmp"
	"slices"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

func sortTickets(ts []mm.Ticket) {
	slices.SortStableFunc(ts, func(a, b mm.Ticket) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
}
