# Entry point of the rig board.
import rigfw

rigfw.main()
