"""Company Dating: speed dates between students and companies, scheduled for the best total.

An operator registers companies (each with its tables), students (each with how many dates
they want at most), time slots, breaks and must-meet pairs; the schedule chooses who meets
whom for the highest total of matching's scores and seats every date at a table in a slot
(:mod:`.solver` says how, and why it is optimal). Each participant is sent their agenda.
A bounded context of its own inside the matching service: it reads matching's view of
students and companies and its match scores, and owns its tables and its topic.
"""
